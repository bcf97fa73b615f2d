import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/** True while a process runs (or runs as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Starts `mlops <args>` in the background, outliving this process, with its output appended to
 * `logFile`. Used for the local proxy and local prediction servers.
 */
export function spawnMlops(args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'mlops.js'), ...args], {
      detached: true,
      stdio: ['ignore', out, out],
      env,
    });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(out);
  }
}

/** SIGTERM, then wait for the exit; SIGKILL after `timeoutMs`. */
export async function terminate(pid: number, timeoutMs: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last line of a server's output, a JSON log line's message: its last words, for an error message. */
export function lastWords(output: string): string {
  const line = output.trim().split('\n').at(-1) || 'no output';
  try {
    return String((JSON.parse(line) as { message?: unknown }).message ?? line); // a JSON log line
  } catch {
    return line;
  }
}
