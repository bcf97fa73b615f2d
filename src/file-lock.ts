import { constants } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MlopsError } from './errors.js';
import { identify, processState, type ProcessIdentity } from './processes.js';
import { pollUntil } from './poll.js';

/** The lock file names its holder: `<pid>` or `<pid> <start time>`. */
const holderText = ({ pid, started }: ProcessIdentity) => (started === undefined ? String(pid) : `${pid} ${started}`);

function parseHolder(text: string): ProcessIdentity | undefined {
  const [, pid, started] = /^(\d+)(?: (.+))?$/s.exec(text) ?? [];
  return pid ? { pid: Number(pid), started } : undefined; // empty: its holder is writing it this moment
}

/**
 * Runs `work` holding `lock`: a file created exclusively, so writers in this process and in others
 * never interleave. A lock whose holder is gone, or whose pid another process holds now, is taken
 * over; one held longer than `waitMs` is a transient error naming `what` is locked.
 */
export async function withFileLock<T>(lock: string, what: string, work: () => Promise<T>, waitMs = 10_000): Promise<T> {
  await mkdir(dirname(lock), { recursive: true });
  const me = holderText(identify(process.pid));
  let holder: ProcessIdentity | undefined;
  const taken = async () => {
    try {
      const handle = await open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
      await handle.writeFile(me).finally(() => handle.close());
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      holder = parseHolder(await readFile(lock, 'utf8').catch(() => ''));
      if (!holder || processState(holder) === 'running') return false;
      await rm(lock, { force: true }); // its holder is gone: take it over
      return taken();
    }
  };
  const expired = () => {
    throw new MlopsError('transient', `${what} is locked by another run (pid ${holder?.pid ?? 'unknown'})`, {
      hint: `wait for it to finish; if no run is active, delete ${lock}`,
    });
  };
  await pollUntil(waitMs, taken, expired, 20);
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}
