import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/schema.js';
import { createContext } from '../src/context.js';
import { memoryLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/registry.js';
import { runSummary } from '../src/report.js';
import { isolatedConfig, trained } from './helpers/model.js';

let root: string;
let config: Config;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-pipeline-'));
  config = await isolatedConfig(root);
});
afterAll(() => rm(root, { recursive: true, force: true }));

const readJson = async (file: string): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'));

const context = (runId: string, change: (c: Config) => void = () => {}) => {
  const c = structuredClone(config);
  change(c);
  const ctx = createContext(
    { config: c, file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId, log: memoryLogger(), progress: silentProgress },
  );
  ctx.runDir = join(root, runId);
  return ctx;
};

describe('the whole pipeline on the sample data', () => {
  it('releases the first model on value thresholds alone, then judges the second against it', async () => {
    const first = trained(await runPipeline(context('first')));
    expect(first.decision).toMatchObject({ passed: true, blessed: true });
    expect(first.decision.note).toContain('checked on value thresholds and the baselines only');
    // The baselines on the same test rows, beside the candidate, and the constant one beaten on the interval.
    expect(first.evaluate.baselines?.constant).toMatchObject({ metrics: { accuracy: 0.44 } });
    expect(first.evaluate.baselines?.linear).toHaveProperty('metrics.accuracy');
    const beaten = first.decision.rules.find((r) => r.rule === 'baseline');
    expect(beaten).toMatchObject({ metric: 'accuracy', baseline: { name: 'constant', value: 0.44 }, passed: true });
    expect(beaten!.interval!.held).toBeGreaterThan(0);
    expect(runSummary('first', root, first)).toMatch(/metric +candidate +champion +constant +linear/);
    expect(first.record?.version).toBe('v1');

    // The same data, config and code as v1: only retrain makes it train again.
    const second = trained(await runPipeline(context('second'), { retrain: true }));
    expect(second.decision.championVersion).toBe('v1');
    expect(second.evaluate.champion?.version).toBe('v1');
    expect(second.decision.rules.some((r) => r.rule === 'change.absolute')).toBe(true);
    // Same data, config and seed: the champion re-scored on the same rows gives the candidate's metrics.
    const accuracy = (m?: object) => (m as { accuracy?: number } | undefined)?.accuracy;
    expect(accuracy(second.evaluate.champion?.metrics)).toBe(accuracy(second.evaluate.metrics));
    expect(second.record?.version).toBe('v2');
    expect(await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).toEqual({
      champion: 'v2',
      previous: 'v1',
    });
  });

  it('keeps the champion when the gate rejects, and releases a rejected model only when forced', async () => {
    const strict = (c: Config) => (c.gates!.thresholds.accuracy = { lower: 1.01 });
    const rejected = trained(await runPipeline(context('rejected', strict)));
    expect(rejected.decision.passed).toBe(false);
    expect(rejected.record).toBeUndefined();
    expect((await openRegistry({ config, configDir: process.cwd(), env: process.env }).aliases()).champion).toBe('v2');

    const forced = trained(await runPipeline(context('forced', strict), { force: { reason: 'ship the fix' } }));
    expect(forced.record?.version).toBe('v3');
    const decision = JSON.parse(await readFile(join(root, 'forced/gate/decision.json'), 'utf8'));
    expect(decision.forced).toEqual({ reason: 'ship the fix' });
  });

  it("trains nothing on the champion's own data, config and code, and adds no version; retrain trains anyway", async () => {
    // v3, the champion, was trained by the forced run above, on the strict gate's config.
    const strict = (c: Config) => (c.gates!.thresholds.accuracy = { lower: 1.01 });
    const again = await runPipeline(context('again', strict));
    expect(again).toMatchObject({ unchanged: 'v3' });
    expect(await readJson(join(root, 'again', 'run.json'))).toMatchObject({
      status: 'unchanged',
      steps: [{ name: 'extract', status: 'succeeded' }],
    });
    expect(await openRegistry({ config, configDir: process.cwd(), env: process.env }).versions()).toEqual(['v1', 'v2', 'v3']);
    // Another config is new; retrain trains on the same again.
    expect(await runPipeline(context('other-config'))).toHaveProperty('record.version', 'v4');
    expect(await runPipeline(context('retrained'), { retrain: true })).toHaveProperty('record.version', 'v5');
  });

  it('stores model, preprocessing, card, evaluation and decision in the version, checksummed', async () => {
    const { manifest } = await openRegistry({ config, configDir: process.cwd(), env: process.env }).open('champion');
    expect(Object.keys(manifest.files).sort()).toEqual([
      'decision.json',
      'evaluation.json',
      'metadata.json',
      'model.json',
      'preprocess.json',
      'weights.bin',
    ]);
  });
});
