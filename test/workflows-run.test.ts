import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { fakeGitHub } from './helpers/fake-github.js';
import { git } from './helpers/git-remote.js';
import { workflowHarness, type WorkflowRun } from './helpers/workflow-runner.js';

/**
 * The workflows run as GitHub runs them (test/helpers/workflow-runner.ts): every job of a workflow
 * file on GitHub's own parser and expression evaluator, the actions from their committed bundles,
 * on the sample data, with nothing to deploy to (no variables: MLOPS_DEPLOY_TARGET is none) and the
 * registry on the `mlops-registry` branch of a bare repository standing in for the fork.
 */

let github: Awaited<ReturnType<typeof fakeGitHub>>;
let harness: Awaited<ReturnType<typeof workflowHarness>>;
beforeAll(async () => (github = await fakeGitHub()));
afterEach(async () => {
  github.reset();
  await harness?.close();
});
afterAll(() => github.close());

const sampleConfig = parse(readFileSync('mlops.config.yaml', 'utf8')) as Record<string, any>;
/** mlops.config.yaml with an edit, as a fixture file. */
const configWith = (edit: (config: Record<string, any>) => void) => {
  const config = structuredClone(sampleConfig);
  edit(config);
  return stringify(config);
};

const results = (run: WorkflowRun) => Object.fromEntries(Object.entries(run.jobs).map(([id, job]) => [id, job.result]));
const attempts = (run: WorkflowRun) => Object.fromEntries(Object.entries(run.jobs).map(([id, job]) => [id, job.attempt]));
const artifact = (run: WorkflowRun, name: string, file = '') => join(harness.artifacts, String(run.runId), name, file);
/** The model versions on the fork's registry branch. */
const versions = async () =>
  (await git(harness.remote, 'ls-tree', '--name-only', 'mlops-registry:versions/').catch(() => '')).split('\n').filter(Boolean);

const PIPELINE = ['extract', 'train', 'evaluate', 'gate', 'record', 'build', 'deploy'];
/** A whole train.yml run takes 25-40 s on two busy cores; a test with two of them gets more than the default minute. */
const TWO_RUNS = { timeout: 120_000 };

/** A workflow of run steps only, with GitHub's rules to show: it runs in seconds. */
const RULES = `
name: rules
on: workflow_dispatch
env:
  WHO: the workflow
jobs:
  first:
    runs-on: ubuntu-latest
    outputs:
      greeting: \${{ steps.say.outputs.greeting }}
    steps:
      - id: say
        run: echo "greeting=hello from $WHO" >> "$GITHUB_OUTPUT"
      - run: exit 3
      - run: echo never
      - if: failure()
        run: echo "::warning title=after a failure::job.status \${{ job.status }}, say \${{ steps.say.outcome }}"
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  third:
    needs: second
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "::notice::second \${{ needs.second.result }}"
  artifacts:
    runs-on: ubuntu-latest
    steps:
      - run: mkdir -p out/.hidden && echo a > out/a.txt && echo h > out/.hidden/h.txt
      - uses: actions/upload-artifact@v6
        with: { name: out, path: out/ }
      - uses: actions/upload-artifact@v6
        continue-on-error: true
        with: { name: out, path: out/ }
      - uses: actions/upload-artifact@v6
        with: { name: none, path: missing/ }
      - uses: actions/download-artifact@v7
        with: { name: out, path: back }
      - run: test -f back/a.txt && test ! -e back/.hidden
`;

describe('the harness keeps GitHub’s rules', () => {
  it('status functions, needs, outputs, and artifact names unique in a run', async () => {
    harness = await workflowHarness({ apiUrl: github.apiUrl, files: { '.github/workflows/rules.yml': RULES } });
    const run = await harness.run('rules.yml', { name: 'workflow_dispatch' });

    // A failed step skips the steps after it but those asking for failure(), and fails the job.
    expect(run.jobs.first).toMatchObject({ result: 'failure', outputs: { greeting: 'hello from the workflow' } });
    expect(run.jobs.first!.log).not.toContain('never');
    expect(run.jobs.first!.annotations).toEqual([
      { level: 'warning', title: 'after a failure', message: 'job.status failure, say success' },
    ]);
    // A job whose needs failed is skipped; always() runs after it, and sees its needs only.
    expect(results(run)).toMatchObject({ second: 'skipped', third: 'success' });
    expect(run.jobs.third!.annotations).toEqual([{ level: 'notice', message: 'second skipped' }]);
    // A second upload of a name fails with GitHub's 409; no files warns; hidden files stay out.
    expect(run.jobs.artifacts!.result).toBe('success');
    expect(run.jobs.artifacts!.annotations.map((a) => `${a.level}: ${a.message}`)).toEqual([
      expect.stringMatching(/^error: .*\(409\) Conflict: an artifact with this name already exists on the workflow run$/),
      'warning: No files were found with the provided path: missing/. No artifacts will be uploaded.',
    ]);

    // "Re-run failed jobs" runs the failed job and those after it; the others keep their attempt.
    const rerun = await harness.rerunFailedJobs(run);
    expect(attempts(rerun)).toEqual({ first: 2, second: 2, third: 2, artifacts: 1 });
  });
});

/** A scheduled train.yml run whose gate rejects the model: log_loss held to 0.001. */
async function rejectedRun() {
  harness = await workflowHarness({
    apiUrl: github.apiUrl,
    files: { 'mlops.config.yaml': configWith((c) => (c.gates.thresholds.log_loss.upper = 0.001)) },
  });
  const rejected = await harness.run('train.yml', { name: 'schedule' });
  expect(results(rejected)).toMatchObject({ gate: 'failure' });
  return rejected;
}

describe('train.yml', () => {
  it('a scheduled run on the sample data passes every job, each writing its summary, and records one version', async () => {
    harness = await workflowHarness({ apiUrl: github.apiUrl });
    const run = await harness.run('train.yml', { name: 'schedule' });

    expect(results(run)).toEqual(Object.fromEntries(PIPELINE.map((job) => [job, 'success'])));
    for (const job of PIPELINE) expect(run.jobs[job]!.summary, job).not.toBe('');
    expect(run.jobs.gate!.outputs.blessed).toBe('true');
    // Nothing to deploy to: build and deploy say so and end.
    expect(run.jobs.deploy!.annotations).toContainEqual(
      expect.objectContaining({ level: 'notice', message: expect.stringContaining('nothing to do') }),
    );
    expect(run.jobs.deploy!.environment).toBe('production');
    expect(await versions()).toEqual(['v1']);
  });

  it('a failed extract (a contract breach) saves its quarantine and summary, and the jobs after it are skipped', async () => {
    harness = await workflowHarness({
      apiUrl: github.apiUrl,
      // No row may break the contract, and the heaviest Gentoos now do.
      files: {
        'mlops.config.yaml': configWith((c) => {
          c.data.contract.max_quarantine_ratio = 0;
          c.data.contract.columns.body_mass_g.range = [2000, 5500];
        }),
      },
    });
    const run = await harness.run('train.yml', { name: 'schedule' });

    expect(results(run)).toEqual({ extract: 'failure', ...Object.fromEntries(PIPELINE.slice(1).map((job) => [job, 'skipped'])) });
    expect(run.jobs.extract!.annotations).toContainEqual(expect.objectContaining({ level: 'error' }));
    expect(existsSync(artifact(run, 'run-extract-failed-attempt-1', 'extract/quarantine.jsonl'))).toBe(true);
    expect(existsSync(artifact(run, 'run-extract'))).toBe(false);
  });

  it(
    '"Re-run failed jobs" after the gate rejected, with the threshold lowered: the gate and the jobs after it run again on the earlier jobs\' artifacts',
    TWO_RUNS,
    async () => {
      const rejected = await rejectedRun();
      expect(results(rejected)).toMatchObject({ evaluate: 'success', record: 'skipped', deploy: 'skipped' });
      expect(rejected.jobs.gate!.annotations).toContainEqual(
        expect.objectContaining({ level: 'error', message: expect.stringContaining('log_loss') }),
      );
      expect(existsSync(artifact(rejected, 'run-gate-failed-attempt-1', 'gate'))).toBe(true);

      // On GitHub a re-run checks out the same commit: the fixture's change stands for what may differ
      // between attempts (a variable, the data); here, the gate's threshold.
      harness.files['mlops.config.yaml'] = stringify(sampleConfig);
      const rerun = await harness.rerunFailedJobs(rejected);

      expect(rerun).toMatchObject({ runId: rejected.runId, attempt: 2 });
      expect(results(rerun)).toEqual(Object.fromEntries(PIPELINE.map((job) => [job, 'success'])));
      expect(attempts(rerun)).toEqual({ extract: 1, train: 1, evaluate: 1, gate: 2, record: 2, build: 2, deploy: 2 });
      expect(rerun.jobs.gate!.outputs.blessed).toBe('true');
      expect(await versions()).toEqual(['v1']);
    },
  );

  it(
    "a dispatch with rekick_run_id and from_step gate runs the gate and the jobs after it on the earlier run's artifacts",
    TWO_RUNS,
    async () => {
      const rejected = await rejectedRun();
      harness.files['mlops.config.yaml'] = stringify(sampleConfig);
      const rekick = await harness.run('train.yml', {
        name: 'workflow_dispatch',
        inputs: { rekick_run_id: String(rejected.runId), from_step: 'gate' },
      });

      expect(rekick.runId).not.toBe(rejected.runId);
      expect(results(rekick)).toEqual({
        extract: 'skipped',
        train: 'skipped',
        evaluate: 'skipped',
        gate: 'success',
        record: 'success',
        build: 'success',
        deploy: 'success',
      });
      // The run continues under the earlier run's id, from its artifacts.
      expect(existsSync(artifact(rekick, 'run-gate', 'evaluate/'))).toBe(true);
      expect(await versions()).toEqual(['v1']);
    },
  );

  it('a second scheduled run on unchanged data, config and code adds no version', TWO_RUNS, async () => {
    harness = await workflowHarness({ apiUrl: github.apiUrl });
    const first = await harness.run('train.yml', { name: 'schedule' });
    expect(results(first)).toMatchObject({ deploy: 'success' });
    expect(first.jobs.extract!.outputs.changed).toBe('true');

    const second = await harness.run('train.yml', { name: 'schedule' });

    expect(second.jobs.extract).toMatchObject({ result: 'success', outputs: { changed: 'false' } });
    expect(results(second)).toEqual({ extract: 'success', ...Object.fromEntries(PIPELINE.slice(1).map((job) => [job, 'skipped'])) });
    expect(await versions()).toEqual(['v1']);
  });
});

describe('monitor.yml', () => {
  it('with nothing deployed (no MLOPS_DEPLOY_TARGET variable), says so in a notice instead of monitoring', async () => {
    harness = await workflowHarness({ apiUrl: github.apiUrl });
    const run = await harness.run('monitor.yml', { name: 'schedule' });

    expect(results(run)).toEqual({ 'nothing-deployed': 'success', monitor: 'skipped' });
    expect(run.jobs['nothing-deployed']!.annotations).toEqual([
      expect.objectContaining({ level: 'notice', message: expect.stringContaining('nothing is deployed') }),
    ]);
  });

  it('with Issues disabled, a breach is a warning naming why and fails the job', async () => {
    // A local server's prediction log (the file name is its id) where every request failed.
    const now = Date.now();
    const failed = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify({
        time: new Date(now - 60_000 + i).toISOString(),
        request_id: `r${i}`,
        model_version: 'v1',
        latency_ms: 3,
        status: 500,
      }),
    );
    harness = await workflowHarness({
      apiUrl: github.apiUrl,
      vars: { MLOPS_DEPLOY_TARGET: 'local' },
      files: { '.mlops/predictions/v1-8100.jsonl': `${failed.join('\n')}\n` },
    });
    github.state.issuesDisabled = true;

    const run = await harness.run('monitor.yml', { name: 'schedule' });

    expect(run.jobs.monitor!.result).toBe('failure');
    expect(run.jobs.monitor!.annotations).toContainEqual(
      expect.objectContaining({ level: 'warning', message: expect.stringContaining('Issues are disabled') }),
    );
    expect(run.jobs.monitor!.annotations).toContainEqual(expect.objectContaining({ level: 'error', title: 'monitor: model v1 breached' }));
    expect(github.state.calls).toContain('GET /issues');
  });
});

describe('predict.yml', () => {
  it(
    "scores the champion's batch on schedule, keeps it as an artifact and its counts on the registry branch, and alerts on a failed one",
    { timeout: 180_000 },
    async () => {
      harness = await workflowHarness({
        apiUrl: github.apiUrl,
        files: { 'mlops.config.yaml': configWith((c) => (c.predict.as_of = '2010-01-01')) },
      });
      expect(results(await harness.run('train.yml', { name: 'schedule' }))).toMatchObject({ record: 'success' });

      const run = await harness.run('predict.yml', { name: 'schedule' });
      expect(results(run)).toEqual({ predict: 'success' });
      expect(run.jobs.predict!.outputs).toMatchObject({
        'as-of': '2010-01-01',
        version: 'v1',
        'rows-scored': '344',
        'rows-quarantined': '0',
      });
      expect(run.jobs.predict!.summary).toMatch(
        /### predict: 344 rows scored for 2010-01-01 with model v1[\s\S]*Predicted classes against the training labels/,
      );
      expect(existsSync(artifact(run, 'predictions-2010-01-01', 'as_of=2010-01-01.parquet'))).toBe(true);
      expect(existsSync(artifact(run, 'run-predict', 'predict/predict.json'))).toBe(true);
      const batch = JSON.parse(await git(harness.remote, 'show', 'mlops-registry:batches/2010-01-01.jsonl')) as Record<string, any>;
      expect(batch).toMatchObject({ model_version: 'v1', request_id: `gh-${run.runId}`, batch: { as_of: '2010-01-01', rows: 344 } });
      const ledger = JSON.parse(await git(harness.remote, 'show', `mlops-registry:runs/gh-${run.runId}.json`)) as Record<string, any>;
      expect(ledger).toMatchObject({ kind: 'predict', status: 'succeeded', options: { asOf: '2010-01-01' } });

      const failed = await harness.run('predict.yml', { name: 'workflow_dispatch', inputs: { version: 'v9' } });
      expect(results(failed)).toEqual({ predict: 'failure' });
      expect(failed.jobs.predict!.annotations).toContainEqual(
        expect.objectContaining({
          level: 'error',
          message: expect.stringContaining('the registry has no version v9 to score with (it has v1)'),
        }),
      );
      expect(existsSync(artifact(failed, 'run-predict-failed-attempt-1', 'run.json'))).toBe(true);
      expect(github.open()).toEqual([expect.objectContaining({ title: expect.stringContaining('predict') })]);
    },
  );
});

describe('reevaluate.yml', () => {
  it(
    'retires the champion that fails on the rows after its training window, fails the run and dispatches train.yml',
    TWO_RUNS,
    async () => {
      harness = await workflowHarness({
        apiUrl: github.apiUrl,
        // From 2009 on, each species' measurements carry another species' name (test/retirement).
        files: {
          'mlops.config.yaml': configWith((c) => {
            c.data.source.query = c.data.source.query.replace(
              `split_part("Species", ' ', 1) AS species`,
              `CASE WHEN "Date Egg" < DATE '2009-01-01' THEN split_part("Species", ' ', 1)
                  ELSE CASE split_part("Species", ' ', 1) WHEN 'Adelie' THEN 'Gentoo' WHEN 'Gentoo' THEN 'Chinstrap' ELSE 'Adelie' END
             END AS species`,
            );
            c.data.window.days = 800;
            c.gates = { min_slice_rows: 10, thresholds: { accuracy: { lower: 0.8 } } };
          }),
        },
      });
      // The champion learns 2007-2008.
      const trained = await harness.run('train.yml', { name: 'workflow_dispatch', inputs: { as_of: '2009-01-01' } });
      expect(results(trained)).toMatchObject({ record: 'success', deploy: 'success' });

      const run = await harness.run('reevaluate.yml', { name: 'workflow_dispatch', inputs: { as_of: '2010-01-01' } });

      expect(run.jobs.reevaluate!.result).toBe('failure');
      expect(run.jobs.reevaluate!.summary).toMatch(/### Re-evaluation[\s\S]*retired/);
      expect(github.state.dispatches).toEqual([expect.objectContaining({ workflow: 'train.yml', ref: 'main' })]);
      const tags = JSON.parse(await git(harness.remote, 'show', 'mlops-registry:versions/v1/tags.json')) as Record<string, unknown>;
      expect(tags.retired_reason).toMatch(/accuracy/);
      expect(existsSync(artifact(run, 'reevaluation-attempt-1'))).toBe(true);
    },
  );
});
