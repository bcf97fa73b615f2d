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

/**
 * The commit the code runs from when the code is exactly that commit: GITHUB_SHA on a runner (a
 * fresh checkout), else the checkout's HEAD when no tracked file has uncommitted edits.
 */
export function cleanCommit(dir: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.GITHUB_SHA) return env.GITHUB_SHA;
  try {
    const edited = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return edited.length ? undefined : gitSha(dir, env);
  } catch {
    return undefined; // not a checkout: the code has no name
  }
}
