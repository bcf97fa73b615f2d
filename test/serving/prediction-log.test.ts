import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PredictionLog, type LogOptions, type PredictionEntry } from '../../serving/prediction-log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-plog-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const open = (options: Partial<LogOptions> = {}) =>
  new PredictionLog({ path: join(dir, 'p.jsonl'), maxBytes: 1e9, maxFiles: 3, capacity: 10_000, redact: [], ...options });

/** A request's entry: one record `{i, note}` per prediction, or a batch of them. */
const entry = (is: number[], batch = is.length > 1): PredictionEntry => {
  const records = is.map((i) => ({ i, note: 'x'.repeat(80) }));
  return {
    time: '2026-11-21T00:00:00.000Z',
    requestId: `r${is[0]}`,
    modelVersion: 'v1',
    latencyMs: 1.25,
    body: JSON.stringify(batch ? { instances: records } : records[0]),
    batch,
    fields: 2,
    predictions: JSON.stringify(is.map((i) => ({ value: i * 2 }))),
    rows: is.length,
    outlierScores: Float32Array.from(is, () => 0.5),
  };
};
const readLines = async (file = 'p.jsonl') =>
  (await readFile(join(dir, file), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('the prediction log', () => {
  it('writes one JSON line per prediction, in order, and everything handed over is on disk after close', async () => {
    const log = open();
    for (let i = 0; i < 500; i++) log.write(entry([i]));
    log.write(entry([500, 501, 502]));
    await log.close();
    const lines = await readLines();
    expect(lines.map((l) => l.inputs.i)).toEqual(Array.from({ length: 503 }, (_, i) => i));
    expect(lines[501]).toEqual({
      time: '2026-11-21T00:00:00.000Z',
      request_id: 'r500',
      model_version: 'v1',
      inputs: { i: 501, note: 'x'.repeat(80) },
      outputs: { value: 1002 },
      latency_ms: 1.25,
      outlier_score: 0.5,
    });
    expect(log.written).toBe(503);
  });

  it('logs each record as sent, whatever its strings hold, and a pretty-printed body on one line per record', async () => {
    const tricky = [
      { i: 0, note: 'braces } { and brackets ] [' },
      { i: 1, note: 'quotes \\" and a backslash \\\\ at the end \\' },
      { i: 2, note: 'unicode \u00e9\u4e2d and an escaped \\u0041' },
      { i: 3, note: null },
    ];
    const log = open();
    const base = entry([0, 1, 2, 3]);
    log.write({ ...base, body: JSON.stringify({ instances: tricky }) });
    log.write({ ...base, body: JSON.stringify({ instances: tricky }, null, 2) });
    log.write({ ...entry([9]), body: JSON.stringify(tricky[1]) });
    await log.close();
    expect((await readLines()).map((l) => l.inputs)).toEqual([...tricky, ...tricky, tricky[1]]);
  });

  it('writes a failed request as one short line with its status, among the predictions', async () => {
    const log = open();
    log.write(entry([1]));
    log.write({ time: '2026-11-21T00:00:01.000Z', requestId: 'bad-1', modelVersion: 'v1', latencyMs: 0.5, status: 422 });
    log.write(entry([2]));
    await log.close();
    const lines = await readLines();
    expect(lines[1]).toEqual({ time: '2026-11-21T00:00:01.000Z', request_id: 'bad-1', model_version: 'v1', status: 422, latency_ms: 0.5 });
    expect(lines.map((l) => l.inputs?.i)).toEqual([1, undefined, 2]);
    expect(log.written).toBe(3);
  });

  it('writes the configured input fields as "[redacted]"', async () => {
    const log = open({ redact: ['note'] });
    log.write(entry([1, 2]));
    await log.close();
    expect((await readLines()).map((l) => l.inputs)).toEqual([
      { i: 1, note: '[redacted]' },
      { i: 2, note: '[redacted]' },
    ]);
  });

  it('rotates by size and keeps max_files rotated files', async () => {
    const log = open({ maxBytes: 2000, maxFiles: 2 });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 30; i++) log.write(entry([round * 30 + i]));
      await new Promise((r) => setTimeout(r, 20));
    }
    log.write(entry([-1]));
    await log.close();
    expect((await readdir(dir)).sort()).toEqual(['p.1.jsonl', 'p.2.jsonl', 'p.jsonl']);
    expect((await readLines()).map((l) => l.inputs.i)).toEqual([-1]);
  });

  it('never blocks and never grows without bound: past capacity it drops and counts', async () => {
    const log = open({ capacity: 100 });
    const accepted = Array.from({ length: 5000 }, (_, i) => log.write(entry([i]))).filter(Boolean).length;
    expect(accepted).toBe(100);
    expect(log.dropped).toBe(4900);
    expect(log.depth).toBe(100);
    expect(log.write(entry(Array.from({ length: 256 }, (_, i) => i)))).toBe(false);
    expect(log.dropped).toBe(4900 + 256);
    await log.close();
    expect(await readLines()).toHaveLength(100);
    expect(log.depth).toBe(0);
  });

  it('counts and reports predictions it cannot write, and keeps running', async () => {
    await writeFile(join(dir, 'a-file'), '');
    const errors: string[] = [];
    const log = open({ path: join(dir, 'a-file', 'p.jsonl'), onError: (m) => errors.push(m) });
    expect(log.write(entry([1, 2, 3]))).toBe(true);
    await expect.poll(() => log.dropped).toBe(3);
    expect(errors.join('\n')).toMatch(/3 predictions not written: .*a-file/);
    await log.close();
  });
});
