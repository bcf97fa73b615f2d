import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { rollout, undeploy } from '../../src/deploy/rollout.js';
import { reevaluate } from '../../src/retirement/reevaluate.js';
import { openRegistry } from '../../src/registry/registry.js';
import { mlops } from '../helpers/cli.js';
import { predict, underLoad } from '../helpers/load.js';
import { contextFor, deployTo, isolatedConfig, trainedRun } from '../helpers/model.js';

/**
 * The sample penguins, with the label relationship flipped from 2009 on: each species' measurements
 * now carry another species' name. A model trained on 2007-2008 has learnt what no longer holds.
 */
const flippedFrom2009 = (query: string) =>
  query.replace(
    `split_part("Species", ' ', 1) AS species`,
    `CASE WHEN "Date Egg" < DATE '2009-01-01' THEN split_part("Species", ' ', 1)
          ELSE CASE split_part("Species", ' ', 1) WHEN 'Adelie' THEN 'Gentoo' WHEN 'Gentoo' THEN 'Chinstrap' ELSE 'Adelie' END
     END AS species`,
  );

let root: string;
let config: Config;
let ctx: StepContext;
let proxy: string;

const registry = () => openRegistry({ config, configDir: process.cwd(), env: process.env });
const backends = async () => (await (await fetch(`${proxy}/backends`)).json()) as { id: string; version: string }[];

/** A run trained on the window [as_of - days, as_of). */
const trainedOn = (asOf: string, days: number, runId: string) => {
  const c = structuredClone(config);
  c.data.window = { as_of: asOf, days };
  return trainedRun(c, runId);
};

describe('mlops reevaluate: production models on fresh labelled data, and retirement', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-reevaluate-'));
    config = await isolatedConfig(root);
    config.project = 'reevaluate-test';
    config.data.source.query = flippedFrom2009(config.data.source.query);
    config.gates = { min_slice_rows: 10, thresholds: { accuracy: { lower: 0.8 } } };
    config.retirement.retrain = false;
    config.retirement.min_rows = 50;
    proxy = await deployTo(config, 'local');
    // v1 learns the 2009 relationship; v2, released after it, learns 2007-2008's and serves.
    await trainedOn('2010-01-01', 365, 'v1-2009');
    const second = await trainedOn('2009-01-01', 800, 'v2-2007-2008');
    expect(second.result.deploy?.version).toBe('v2');
    ctx = await contextFor(config, 'reevaluate-1');
  }, 240_000);
  afterAll(async () => {
    await undeploy(ctx).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('retires the serving version that fails on the rows after its training window, and another takes over without a failed request', async () => {
    const load = underLoad(proxy);
    const result = await reevaluate(ctx, { asOf: '2010-01-01' });
    const { failures, ok } = await load.stop();

    const [v2] = result.verdicts;
    expect(v2).toMatchObject({ version: 'v2', window: { windowStart: '2009-01-01', asOf: '2010-01-01' } });
    expect(v2!.rows).toBeGreaterThan(100);
    expect(v2!.metrics!).toHaveProperty('accuracy', expect.any(Number));
    expect((v2!.metrics as { accuracy: number }).accuracy).toBeLessThan(0.5);
    expect(v2!.retired!.reason).toMatch(
      /^on \d+ fresh rows \(2009-01-01 to 2010-01-01\): accuracy \(all\) lower: 0(\.\d+)? vs bound 0\.8000$/,
    );
    // The registry records when and why.
    expect(await registry().tags('v2')).toMatchObject({ retired_at: v2!.retired!.at, retired_reason: v2!.retired!.reason });

    // v1 was kept for rollback and is not retired: it serves now, and v2's server is gone.
    expect(result.servers).toMatchObject({ replacedBy: { version: 'v1' }, removed: [expect.stringMatching(/^v2-/)] });
    expect((await backends()).map((b) => b.version)).toEqual(['v1']);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect((await registry().aliases()).champion).toBe('v1');
  }, 120_000);

  it('refuses to deploy a retired version again, saying when and why it was retired', async () => {
    await expect(rollout(ctx, 'v2')).rejects.toMatchObject({
      errorClass: 'config',
      message: expect.stringMatching(/^v2 was retired at .*: on \d+ fresh rows/),
    });
  });

  it('does not judge a version with too few rows after its window: v1 has none yet', async () => {
    const result = await reevaluate(ctx, { asOf: '2010-01-01' });
    expect(result.verdicts).toEqual([{ version: 'v1', skipped: expect.stringContaining('no days after its training window') }]);
    expect(result.servers).toBeUndefined();
  });

  it('retires by age, but never takes away the last healthy server', async () => {
    const { manifest } = await registry().open('v1');
    const later = new Date(Date.parse(manifest.createdAt) + (config.retirement.max_age_days + 1) * 86_400_000);
    const result = await reevaluate(ctx, { asOf: '2010-01-01', now: later });
    expect(result.verdicts[0]!.retired!.reason).toMatch(/^registered 91\.\d days ago, past retirement\.max_age_days \(90\)$/);
    expect(result.servers).toMatchObject({ removed: [], kept: [expect.stringMatching(/^v1-/)] });
    expect((await predict(proxy)).status).toBe(200);
  });
});

describe('mlops reevaluate, as a process: a gated metric the fresh rows cannot give', () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('retires the version and exits 4, naming the rule it could not judge, when ROC AUC is undefined on the fresh rows', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlops-reevaluate-cli-'));
    const c = await isolatedConfig(dir);
    c.project = 'reevaluate-cli-test';
    // From 2009 on, every penguin is labelled Adelie: on one class, ROC AUC is undefined.
    c.data.source.query = c.data.source.query
      .replace(
        `split_part("Species", ' ', 1) AS species`,
        `CASE WHEN "Date Egg" < DATE '2009-01-01' THEN split_part("Species", ' ', 1) ELSE 'Adelie' END AS species`,
      )
      .replace("'data/penguins_raw.csv'", `'${join(process.cwd(), 'data/penguins_raw.csv')}'`);
    c.data.window = { as_of: '2009-01-01', days: 800 };
    // Torgersen has only Adelie penguins: its ROC AUC is undefined too, and is noted without failing.
    c.gates = { slice_column: 'island', min_slice_rows: 1, thresholds: { roc_auc: { lower: 0.7 } } };
    c.retirement.retrain = false;
    c.retirement.min_rows = 50;
    const { result } = await trainedRun(c, 'one-species');
    expect(result.decision).toMatchObject({ blessed: true, passed: true });
    expect(result.decision.rules).toContainEqual(
      expect.objectContaining({
        scope: 'island=Torgersen',
        value: null,
        passed: true,
        notJudged: expect.stringContaining('roc_auc is NaN'),
      }),
    );

    const file = join(dir, 'mlops.config.yaml');
    await writeFile(file, stringify(c));
    const cli = mlops('--config', file, 'reevaluate', '--as-of', '2010-01-01');
    expect(cli.stdout).toMatch(
      /^v1 +retired: on \d+ fresh rows \(2009-01-01 to 2010-01-01\): roc_auc \(all\) lower: not judged, the candidate's roc_auc is NaN/m,
    );
    expect(cli.stderr).toMatch(/^error\[quality\]: v1 retired/m);
    expect(cli.code).toBe(4);
    expect(await openRegistry({ config: c, configDir: process.cwd(), env: process.env }).tags('v1')).toMatchObject({
      retired_reason: expect.stringContaining('not judged'),
    });
  }, 240_000);
});
