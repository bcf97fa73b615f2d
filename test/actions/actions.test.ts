import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { staleBundles } from '../../scripts/bundle.js';
import { penguinRequest } from '../helpers/load.js';
import { isolatedConfig } from '../helpers/model.js';
import { send, servedLog } from '../monitor/traffic.js';

let root: string;
let configFile: string;

interface ActionYaml {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, unknown>;
}

/** Reads the GITHUB_OUTPUT file: `name<<delimiter`, the value, then the delimiter. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!heredoc) continue;
    const end = lines.indexOf(heredoc[2]!, i + 1);
    outputs[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return outputs;
}

/**
 * Runs an action as the runner does: `node actions/<name>/dist/index.js` with INPUT_* variables
 * (the action.yml defaults filled in, as the runner does), and real GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY, GITHUB_STATE and GITHUB_EVENT_PATH files.
 */
async function runAction(name: string, inputs: Record<string, string> = {}) {
  const spec = parse(await readFile(`actions/${name}/action.yml`, 'utf8')) as ActionYaml;
  const dir = await mkdtemp(join(root, `${name}-`));
  const files = { GITHUB_OUTPUT: 'output', GITHUB_STEP_SUMMARY: 'summary.md', GITHUB_STATE: 'state', GITHUB_EVENT_PATH: 'event.json' };
  for (const file of Object.values(files)) await writeFile(join(dir, file), file === 'event.json' ? '{"schedule": "0 4 * * *"}' : '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_ACTIONS: 'true', CI: 'true' };
  for (const [key, file] of Object.entries(files)) env[key] = join(dir, file);
  for (const [input, { default: value }] of Object.entries(spec.inputs)) env[`INPUT_${input.toUpperCase()}`] = inputs[input] ?? value ?? '';
  const result = spawnSync(process.execPath, [`actions/${name}/dist/index.js`], { env, encoding: 'utf8' });
  return {
    code: result.status,
    stdout: result.stdout,
    outputs: parseOutputs(await readFile(join(dir, 'output'), 'utf8')),
    summary: await readFile(join(dir, 'summary.md'), 'utf8'),
    declared: Object.keys(spec.outputs),
  };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-actions-'));
  const config: Config = await isolatedConfig(root);
  config.data.source.query = config.data.source.query.replace(
    "'data/penguins_raw.csv'",
    `'${join(process.cwd(), 'data/penguins_raw.csv')}'`,
  );
  configFile = join(root, 'mlops.config.yaml');
  await writeFile(configFile, stringify(config));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the actions, run as the runner runs them', () => {
  it('carry a committed bundle that is fresh (check-dist)', async () => {
    expect(await staleBundles()).toEqual([]);
  }, 120_000);

  it('run a whole training run job by job, each continuing the run of the one before', async () => {
    const inputs = { config: configFile, 'run-id': 'scheduled' };
    const extract = await runAction('extract', inputs);
    expect(extract.code).toBe(0);
    expect(Number(extract.outputs['rows-read'])).toBe(344);
    expect(extract.summary).toContain('### extract: 344 rows');

    // The dispatch input sets a search too: the summary shows its trials.
    const search = { trials: 2, space: { learning_rate: [0.001, 0.003] } };
    const train = await runAction('train', { ...inputs, hyperparameters: JSON.stringify({ epochs: 40, search }) });
    expect(train.code).toBe(0);
    expect(Number(train.outputs.epochs)).toBeLessThanOrEqual(40);
    expect(train.summary).toContain('xychart-beta');
    expect(train.summary).toContain('**Search over 2 trials** (budget 2 trials, 30 min; draws seeded by 42)');

    const evaluate = await runAction('evaluate', inputs);
    expect(evaluate.code).toBe(0);
    expect(JSON.parse(evaluate.outputs.metrics!)).toMatchObject({ accuracy: expect.any(Number) });
    expect(evaluate.summary).toMatch(/Confusion matrix[\s\S]*\| \*\*Adelie\*\* \|/);

    const gate = await runAction('gate', inputs);
    expect(gate.code).toBe(0);
    expect(gate.outputs).toMatchObject({ blessed: 'true', passed: 'true', 'run-id': 'scheduled' });
    expect(gate.summary).toContain('| ✅ | accuracy |');

    const record = await runAction('record', inputs);
    expect(record.outputs).toMatchObject({ version: 'v1', promoted: 'true' });

    // deploy.target none: the release steps have nothing to do, and say so.
    const build = await runAction('build', inputs);
    expect(build.code).toBe(0);
    expect(build.stdout).toContain('::notice::build, push: nothing to do');
    const deploy = await runAction('deploy', inputs);
    expect(deploy.code).toBe(0);
    expect(deploy.summary).toContain('### deploy: skipped');

    for (const action of [extract, train, evaluate, gate, record])
      expect(Object.keys(action.outputs).every((name) => action.declared.includes(name))).toBe(true);
    const ledger = JSON.parse(await readFile(join(root, 'work/runs/scheduled/run.json'), 'utf8')) as {
      status: string;
      steps: { name: string }[];
    };
    expect(ledger).toMatchObject({ status: 'succeeded' }); // the last job ended the run
    expect(ledger.steps.map((s) => s.name)).toEqual(['extract', 'train', 'evaluate', 'gate', 'record', 'build', 'push', 'deploy']);
  }, 180_000);

  it('monitors the prediction log: breaches are error annotations and the summary has the table and charts; with no alert sink, the job fails', async () => {
    const config = parse(await readFile(configFile, 'utf8')) as Config; // v1 is the champion: the training run above recorded it
    config.monitoring.min_volume = 50;
    const file = join(root, 'monitor.yaml');
    await writeFile(file, stringify(config));
    // One penguin, over and over, with a body mass no training penguin had: every feature drifts.
    const heavy = { ...(JSON.parse(penguinRequest) as object), body_mass_g: 9000 };
    const log = await servedLog(config, join(root, 'predictions', 'served.jsonl'), (url) => send(url, new Array(60).fill(heavy), 6));
    const { code, stdout, outputs, summary, declared } = await runAction('monitor', {
      config: file,
      'run-id': 'monitor-1',
      log,
      window: '1h',
    });
    // No webhook and no GitHub issue to reach: the red job is the only alert left.
    expect(code).toBe(1);
    expect(stdout).toMatch(/^::error::error\[quality\]: v1 breached monitoring thresholds and no alert reached anyone/m);
    expect(stdout).toMatch(/^::error title=monitor%3A model v1 breached::drift \(PSI\) of body_mass_g is [\d.]+, above 0\.2/m);
    expect(outputs).toMatchObject({ breached: 'v1', 'run-id': 'monitor-1' });
    expect(Number(outputs.breaches)).toBeGreaterThan(0);
    expect(Object.keys(outputs).every((name) => declared.includes(name))).toBe(true);
    expect(summary).toContain('### monitor: ❌ 1 of 1 versions breached');
    expect(summary).toMatch(/^\| v1 \| \d+ breached \| 60 \| 10 \|/m);
    expect(summary).toContain('title "PSI per feature (flat line: threshold 0.2)"');
    expect(JSON.parse(await readFile(outputs.report!, 'utf8'))).toMatchObject({ runId: 'monitor-1', versions: [{ version: 'v1' }] });
  }, 60_000);

  it('fails a bad input with one ::error line naming it, and no stack trace', async () => {
    const { code, stdout } = await runAction('train', { config: configFile, 'run-id': 'scheduled', hyperparameters: '{"epochs": "many"}' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^::error::error\[config\]: model\.epochs: expected number/m);
    expect(stdout).not.toMatch(/\n\s+at /);
  });

  it('fails the gate job on a rejected model, with each failed rule as an error annotation', async () => {
    const strict = parse(await readFile(configFile, 'utf8')) as Config;
    strict.gates!.thresholds.accuracy = { lower: 1.01 };
    const file = join(root, 'strict.yaml');
    await writeFile(file, stringify(strict));
    const { code, stdout, outputs } = await runAction('gate', { config: file, 'run-id': 'scheduled' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^::error title=gate rule failed::accuracy \(all\) lower/m);
    expect(stdout).toMatch(/^::error::error\[quality\]: the model failed the gate/m);
    expect(outputs.blessed).toBe('false');
  });

  it('fails the gate job when a gated metric could not be computed, rather than let null <= bound pass', async () => {
    // What evaluate writes for a NaN: JSON has no NaN, so the file holds null.
    const runs = join(root, 'work', 'runs');
    await cp(join(runs, 'scheduled'), join(runs, 'unjudged'), { recursive: true });
    const file = join(runs, 'unjudged', 'evaluate', 'evaluation.json');
    const evaluation = JSON.parse(await readFile(file, 'utf8')) as { metrics: Record<string, unknown> };
    evaluation.metrics.log_loss = null;
    await writeFile(file, JSON.stringify(evaluation));
    const { code, stdout, summary, outputs } = await runAction('gate', { config: configFile, 'run-id': 'unjudged' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^::error title=gate rule failed::log_loss \(all\) upper: not judged, the candidate's log_loss is NaN/m);
    expect(summary).toMatch(/^\| ❌ \| log_loss \| all \| upper \| not judged: the candidate's log_loss is NaN/m);
    expect(outputs).toMatchObject({ blessed: 'false', passed: 'false' });
  });
});
