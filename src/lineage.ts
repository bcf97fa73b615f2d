import { execFileSync } from 'node:child_process';

/** The commit the pipeline runs from: GitHub's GITHUB_SHA in `env`, else the checkout's HEAD, else "unknown". */
export function gitSha(dir: string, env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_SHA) return env.GITHUB_SHA;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}
