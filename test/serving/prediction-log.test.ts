import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PredictionLog } from '../../serving/prediction-log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-plog-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const line = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(80) });

describe('the prediction log', () => {
  it('writes one JSON line per entry, and everything queued is on disk after close', async () => {
    const log = new PredictionLog({ path: join(dir, 'p.jsonl'), maxBytes: 1e9, maxFiles: 3, capacity: 10_000 });
    for (let i = 0; i < 1000; i++) log.write(line(i));
    await log.close();
    const lines = (await readFile(join(dir, 'p.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(log.written).toBe(1000);
  });

  it('rotates by size and keeps max_files rotated files', async () => {
    const log = new PredictionLog({ path: join(dir, 'p.jsonl'), maxBytes: 2000, maxFiles: 2, capacity: 10_000 });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 30; i++) log.write(line(round * 30 + i));
      await new Promise((r) => setTimeout(r, 5));
    }
    log.write(line(-1));
    await log.close();
    expect((await readdir(dir)).sort()).toEqual(['p.1.jsonl', 'p.2.jsonl', 'p.jsonl']);
    expect((await readFile(join(dir, 'p.jsonl'), 'utf8')).trim()).toBe(line(-1));
  });

  it('never blocks and never grows without bound: past capacity it drops and counts', async () => {
    const log = new PredictionLog({ path: join(dir, 'p.jsonl'), maxBytes: 1e9, maxFiles: 1, capacity: 100 });
    const accepted = Array.from({ length: 5000 }, (_, i) => log.write(line(i))).filter(Boolean).length;
    expect(accepted).toBe(100);
    expect(log.dropped).toBe(4900);
    expect(log.depth).toBe(100);
    await log.close();
    expect((await readFile(join(dir, 'p.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(100);
  });
});
