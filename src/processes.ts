import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { pollUntil } from './poll.js';

/**
 * A process as recorded when it started: its pid, and when it started. A pid read back from a
 * state file may since belong to something else (after a reboot, say): the start time tells them
 * apart, so that nothing but the recorded process is ever signalled or taken to be running.
 */
export interface ProcessIdentity {
  pid: number;
  /** Undefined where this platform offers no start time: then the pid is all there is to go by. */
  started?: string;
}

/** True while some process has the pid (ours or another user's). */
function pidInUse(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const procfs = existsSync('/proc/self/stat');
let bootId: string | undefined;

/** Linux: field 22 of /proc/<pid>/stat (clock ticks after boot), with the boot's id, which makes it unique across reboots. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it, from field 3.
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${bootId}:${ticks}`;
  } catch {
    return undefined;
  }
}

/** Without /proc (macOS, the BSDs): the wall-clock start `ps` reports, to the second. */
export function psStartTime(pid: number): string | undefined {
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.trim() || undefined;
  } catch {
    return undefined; // no such process, or no `ps` (Windows): nothing to go by but the pid
  }
}

/** When the process with `pid` started, undefined when there is none (or no way to tell). */
export const startTime = (pid: number): string | undefined => (procfs ? procStartTime(pid) : psStartTime(pid));

/** The identity of a running process, to record beside its pid. */
export const identify = (pid: number): ProcessIdentity => ({ pid, started: startTime(pid) });

/**
 * What became of a recorded process: `running`; `gone` (no process has the pid); or `reused`, when
 * the pid belongs to another process now, which must be left alone.
 */
export function processState(recorded: ProcessIdentity): 'running' | 'gone' | 'reused' {
  if (!pidInUse(recorded.pid)) return 'gone';
  if (recorded.started === undefined) return 'running';
  const now = startTime(recorded.pid);
  if (now === recorded.started) return 'running';
  // No start time for a pid in use: it exited just now, or it is another user's, hidden from us.
  return now === undefined && !pidInUse(recorded.pid) ? 'gone' : 'reused';
}

/** A process and its host, as a file that other processes (and other hosts) read records it. */
export interface HostProcess extends ProcessIdentity {
  host: string;
}

/** This process, to record as the holder of a lock or the runner of a run. */
export const thisProcess = (): HostProcess => ({ ...identify(process.pid), host: hostname() });

/**
 * True when a recorded process is known to have ended: a pid of this host that no process has, or
 * that another process holds now. Another host's process cannot be checked from here: it may live.
 */
export const isGone = (recorded: HostProcess): boolean => recorded.host === hostname() && processState(recorded) !== 'running';

/**
 * The process of this user whose environment holds `entry` (`NAME=value`): how a child is found
 * whose pid was never recorded. Linux only (/proc/<pid>/environ); elsewhere none is found.
 */
export function findByEnvironment(entry: string): ProcessIdentity | undefined {
  if (!procfs) return undefined;
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) return identify(Number(name));
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return undefined;
}

/**
 * Starts `mlops <args>` in the background, outliving this process, with its output appended to
 * `logFile`, in `env` (the context's, to inherit). Used for the local proxy and local prediction servers.
 */
export function spawnMlops(args: string[], logFile: string, env: NodeJS.ProcessEnv): ProcessIdentity {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'mlops.js'), ...args], {
      detached: true,
      stdio: ['ignore', out, out],
      env,
    });
    child.unref();
    return identify(child.pid!);
  } finally {
    closeSync(out);
  }
}

/** Sends a signal; a process that exited meanwhile needs none. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * SIGTERM, then wait for the exit; SIGKILL after `timeoutMs`. Only the recorded process is
 * signalled: one that is gone, or whose pid another process holds now, is left alone.
 */
export async function terminate(recorded: ProcessIdentity, timeoutMs: number): Promise<void> {
  if (processState(recorded) !== 'running') return;
  signal(recorded.pid, 'SIGTERM');
  await pollUntil(
    timeoutMs,
    () => processState(recorded) !== 'running',
    () => signal(recorded.pid, 'SIGKILL'),
    50,
  );
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
