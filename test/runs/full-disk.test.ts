import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeError, exitCode } from '../../src/errors.js';
import { runPipeline } from '../../src/pipeline.js';
import { writeJson } from '../../src/json-file.js';
import { readRun } from '../../src/runs/ledger.js';
import { contextFor, isolatedConfig } from '../helpers/model.js';

let root: string;
let disk: string;
let mounted = false;

/**
 * A 4 KiB tmpfs, full after one small file: a full disk without filling a real one. Mounting
 * takes root on Linux (CI runs the tests as root); elsewhere the test is skipped, saying so.
 */
function mountSmallDisk(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error('cannot mount a tmpfs in CI, where the tests run as root', { cause: err });
    console.warn('skipping the full-disk test: mounting a tmpfs takes root on Linux');
    return false;
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-full-disk-'));
  disk = join(root, 'disk');
  await mkdir(disk);
  mounted = mountSmallDisk(disk);
});
afterAll(async () => {
  if (mounted) execFileSync('umount', [disk]);
  await rm(root, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('at record is a storage error naming the path and the fix; the run is marked failed and nothing stays locked', async (t) => {
    if (!mounted) return t.skip();
    const config = await isolatedConfig(root);
    config.registry.path = join(disk, 'registry');
    const ctx = await contextFor(config, 'full');
    const err = await runPipeline(ctx).catch((e: unknown) => e);
    expect(describeError(err)).toMatch(
      new RegExp(
        `^error\\[storage\\]: cannot write ${disk}/registry/\\S+: no space is left on its device \\(ENOSPC\\) \\(free space there, then rekick the run\\)$`,
      ),
    );
    expect(exitCode(err)).toBe(6);

    const run = await readRun(ctx.runDir);
    expect(run?.status).toBe('failed');
    expect(run?.steps.at(-1)).toMatchObject({ name: 'record', status: 'failed', errorClass: 'storage' });
    expect(await readdir(config.registry.path)).not.toContain('.lock');
  });

  it('names the file a JSON write could not finish', async (t) => {
    if (!mounted) return t.skip();
    const file = join(disk, 'big.json');
    const err = await writeJson(file, z.string(), 'x'.repeat(10_000)).catch((e: unknown) => e);
    expect(describeError(err)).toBe(
      `error[storage]: cannot write ${file}: no space is left on its device (ENOSPC) (free space there, then rekick the run)`,
    );
    expect(await readdir(disk)).not.toContain('big.json');
  });
});
