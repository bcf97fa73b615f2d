import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlopsError } from '../src/errors.js';
import { withFileLock } from '../src/file-lock.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Takes `lock` with at most `waitMs` of waiting; returns the warnings given and whether the lock was left behind. */
async function take(lock: string, waitMs = 2_000) {
  const warnings: string[] = [];
  await withFileLock(lock, 'the thing', async () => expect(await readFile(lock, 'utf8')).toMatch(/^\d+@/), {
    waitMs,
    log: { warn: (m) => warnings.push(m) },
  });
  const left = await readFile(lock).then(
    () => true,
    () => false,
  );
  return { warnings, left };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as MlopsError,
  );

describe('withFileLock', () => {
  it('takes over an empty lock older than a few seconds (a crash before its holder was written), naming it', async () => {
    const lock = join(dir, 'empty.lock');
    await writeFile(lock, '');
    const old = new Date(Date.now() - 10_000);
    await utimes(lock, old, old);
    const began = Date.now();
    const { warnings, left } = await take(lock);
    expect(Date.now() - began).toBeLessThan(1_000);
    expect(left).toBe(false);
    expect(warnings).toEqual([`the thing: the lock ${lock} is stale (it names no holder and is 10 s old); taking it over`]);
  });

  it('waits for an empty lock just created, which a holder may still be writing', async () => {
    const lock = join(dir, 'fresh.lock');
    await writeFile(lock, '');
    const err = await failure(take(lock, 200));
    expect(err).toBeInstanceOf(MlopsError);
    expect(err!.errorClass).toBe('transient');
    expect(err!.message).toBe('the thing is locked by another run (holder unknown)');
  });

  it('takes over the lock of a dead process of this host, naming it', async () => {
    const lock = join(dir, 'dead.lock');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(lock, `${dead}@${hostname()} 1234`);
    const { warnings, left } = await take(lock);
    expect(left).toBe(false);
    expect(warnings).toEqual([`the thing: the lock ${lock} is stale (its holder, pid ${dead}, is gone); taking it over`]);
  });

  it('waits for a live holder, and for any holder on another host', async () => {
    const live = join(dir, 'live.lock');
    await writeFile(live, String(process.pid));
    expect((await failure(take(live, 200)))!.message).toBe(`the thing is locked by another run (pid ${process.pid})`);
    const remote = join(dir, 'remote.lock');
    await writeFile(remote, '999999999@elsewhere');
    expect((await failure(take(remote, 200)))!.message).toBe('the thing is locked by another run (pid 999999999 on elsewhere)');
  });

  it('releases only its own lock: one another run took over meanwhile stays', async () => {
    const lock = join(dir, 'taken-over.lock');
    await withFileLock(lock, 'the thing', () => writeFile(lock, '999999999@elsewhere'));
    expect(await readFile(lock, 'utf8')).toBe('999999999@elsewhere');
  });

  it('lets one holder at a time in, across concurrent takers', async () => {
    const lock = join(dir, 'busy.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFileLock(lock, 'the thing', async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 10));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
