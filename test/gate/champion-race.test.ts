import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArtifact } from '../../src/artifacts.js';
import { decisionFile } from '../../src/artifact-files.js';
import type { Config } from '../../src/config/schema.js';
import { MlopsError } from '../../src/errors.js';
import type { memoryLogger } from '../../src/log.js';
import { runPipeline, steps, type Step } from '../../src/pipeline.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { contextFor, isolatedConfig, trainedRun } from '../helpers/model.js';

/**
 * Two runs on one registry: each is gated against the champion of its time, and the other may
 * promote between that gate and this run's promotion. The race is made certain by promoting a new
 * champion inside the run, after its gate and before its record step.
 */
let root: string;
let config: Config;
let registry: Registry;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-champion-race-'));
  config = await isolatedConfig(root);
  await trainedRun(config, 'first'); // v1, the champion each run below is gated against
  registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
}, 120_000);
afterAll(() => rm(root, { recursive: true, force: true }));

/** Another run's version, promoted: here v1's own files again, as a new version of another run id. */
async function promoteInterloper(runId: string): Promise<string> {
  const { dir, manifest } = await registry.open('champion');
  const files = Object.keys(manifest.files).map((f) => join(dir, f));
  const { version } = await registry.register(files, { runId, summary: {} });
  await registry.promote(version);
  return version;
}

/** A run whose record step starts after another run promoted `interloper`. */
async function racedRun(runId: string, gates: Partial<NonNullable<Config['gates']>> = {}) {
  const c = structuredClone(config);
  c.model.seed = 7;
  Object.assign(c.gates!, gates);
  const ctx = await contextFor(c, runId);
  let interloper = '';
  const record: Step = async (ctx, o) => {
    interloper = await promoteInterloper(`${runId}-other`);
    return steps.record(ctx, o);
  };
  const outcome = await runPipeline(ctx, { steps: { ...steps, record } }).catch((err: unknown) => err);
  const messages = (ctx.log as ReturnType<typeof memoryLogger>).lines.map((l) => l.message);
  return { ctx, outcome, interloper, messages };
}

describe('promotion after another run promoted', () => {
  it('judges the candidate again against the new champion before it replaces it', async () => {
    const { ctx, outcome, interloper, messages } = await racedRun('raced');
    expect(outcome).not.toBeInstanceOf(Error);
    const decision = await readArtifact(ctx, decisionFile);
    expect(decision.championVersion).toBe(interloper);
    expect(messages.some((m) => m.includes(`the champion is now ${interloper}, and the gate judged`) && m.includes('against v1'))).toBe(
      true,
    );
    const aliases = await registry.aliases();
    expect(aliases.previous).toBe(interloper);
    expect((await registry.open('champion')).manifest.runId).toBe('raced');
  }, 120_000);

  it('with on_champion_change: stop, ends as a quality error naming both versions and keeps the new champion', async () => {
    const before = (await registry.aliases()).champion;
    const { outcome, interloper } = await racedRun('stopped', { on_champion_change: 'stop' });
    expect(outcome).toBeInstanceOf(MlopsError);
    const err = outcome as MlopsError;
    expect(err.errorClass).toBe('quality');
    expect(err.message).toContain(`the champion is now ${interloper}, and the gate judged`);
    expect(err.message).toContain(`against ${before}`);
    expect((await registry.aliases()).champion).toBe(interloper);
  }, 120_000);
});
