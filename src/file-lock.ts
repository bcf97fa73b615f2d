import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { MlopsError } from './errors.js';
import type { Logger } from './log.js';
import { tempName } from './json-file.js';
import { isGone, thisProcess, type HostProcess } from './processes.js';
import { pollUntil } from './poll.js';

/**
 * A lock naming no holder (empty, unreadable or garbled) is stale once this old. Locks are linked
 * into place whole, so only a crash or a full disk under an older version, or a file system that
 * lost the data, leaves one; the wait lets a lock still being written by such a version finish.
 */
const staleAfterMs = 5_000;

/** The lock file names its holder: `<pid>@<host> <start time>`; without a host (older locks), this one. */
const holderText = ({ pid, host, started }: HostProcess) => `${pid}@${host}${started === undefined ? '' : ` ${started}`}`;

function parseHolder(text: string): HostProcess | undefined {
  const [, pid, host, started] = /^(\d+)(?:@(\S+))?(?: (.+))?$/s.exec(text) ?? [];
  return pid ? { pid: Number(pid), host: host ?? hostname(), started } : undefined;
}

export interface LockOptions {
  /** How long to wait for a live holder before giving up. */
  waitMs?: number;
  /** Told when a stale lock is taken over. */
  log?: Pick<Logger, 'warn'>;
}

/**
 * Runs `work` holding `lock`, a file that names its holder and is linked into place whole, so
 * writers in this process and in others never interleave. A lock whose holder is gone (a pid of
 * this host no process has, or has been reused) or that names no holder and is a few seconds old
 * is stale: it is taken over, with a warning naming it. One held past `waitMs` is a transient
 * error naming `what` is locked.
 */
export async function withFileLock<T>(lock: string, what: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  await mkdir(dirname(lock), { recursive: true });
  const me = holderText(thisProcess());
  let holder: HostProcess | undefined;
  const taken = async () => {
    if (await create(lock, me)) return true;
    const text = await readFile(lock, 'utf8').catch(() => undefined);
    holder = text === undefined ? undefined : parseHolder(text);
    const stale = await staleness(lock, holder);
    if (!stale) return false;
    options.log?.warn(`${what}: the lock ${lock} is stale (${stale}); taking it over`);
    await removeIfStill(lock, text);
    return create(lock, me);
  };
  const expired = () => {
    const by = holder ? `pid ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}` : 'holder unknown';
    throw new MlopsError('transient', `${what} is locked by another run (${by})`, {
      hint: `wait for it to finish; if no run is active, delete ${lock}`,
    });
  };
  await pollUntil(options.waitMs ?? 10_000, taken, expired, 20);
  try {
    return await work();
  } finally {
    await removeIfStill(lock, me);
  }
}

/** Creates `lock` holding `text`, or returns false when it exists: `link` fails with EEXIST atomically. */
async function create(lock: string, text: string): Promise<boolean> {
  const temp = tempName(lock);
  try {
    await writeFile(temp, text);
    // ENOENT: a run cleaning leftovers took the temporary file for one; the next poll tries again.
    return await attempt(link(temp, lock), 'EEXIST', 'ENOENT');
  } finally {
    await rm(temp, { force: true });
  }
}

/** Why the lock is stale, or undefined while its holder may be at work. */
async function staleness(lock: string, holder: HostProcess | undefined): Promise<string | undefined> {
  if (holder) {
    // Another host's pid says nothing here: that lock is waited for.
    return isGone(holder) ? `its holder, pid ${holder.pid}, is gone` : undefined;
  }
  const written = (await stat(lock).catch(() => undefined))?.mtimeMs;
  if (written === undefined) return undefined; // gone meanwhile
  const age = Date.now() - written;
  return age >= staleAfterMs ? `it names no holder and is ${Math.round(age / 1000)} s old` : undefined;
}

/**
 * Removes `lock` if it still holds `text`. It is moved aside first and put back when it turns out
 * to be another run's, which took it over meanwhile, so that a run never deletes a live lock.
 */
async function removeIfStill(lock: string, text: string | undefined): Promise<void> {
  const aside = tempName(lock);
  if (!(await attempt(rename(lock, aside), 'ENOENT'))) return;
  try {
    const moved = await readFile(aside, 'utf8').catch(() => undefined);
    // EEXIST: a third run took the lock in the instant it was aside; nothing is left to do.
    if (moved !== text) await attempt(link(aside, lock), 'EEXIST');
  } finally {
    await rm(aside, { force: true });
  }
}

/** True when `op` succeeds, false when it fails with one of `codes`; any other failure is thrown. */
async function attempt(op: Promise<unknown>, ...codes: string[]): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    if (codes.includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}
