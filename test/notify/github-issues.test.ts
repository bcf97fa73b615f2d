import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createContext } from '../../src/context.js';
import { dataError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { alertFor, notifyFailure, notifyRecovered } from '../../src/notify/notify.js';
import { runPipeline, steps, type Step } from '../../src/pipeline.js';
import { silentProgress } from '../../src/progress.js';
import { fakeGitHub } from '../helpers/fake-github.js';
import { isolatedConfig, trained } from '../helpers/model.js';
import { freePort } from '../helpers/ports.js';

const token = 'ghs_fakeTokenNeverLogged0123456789';

let fake: Awaited<ReturnType<typeof fakeGitHub>>;
let github: typeof fake.state;
let root: string;
let config: Config;
/** A workflow's environment, as the action hands it in; a test may change it before its next context. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-issues-'));
  fake = await fakeGitHub();
  github = fake.state;
  config = await isolatedConfig(root);
});
afterAll(async () => {
  await fake.close();
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  fake.reset();
  env = {
    ...process.env,
    GITHUB_TOKEN: token,
    GITHUB_REPOSITORY: 'acme/penguins',
    GITHUB_API_URL: fake.apiUrl,
    GITHUB_SERVER_URL: 'https://ghe.example',
    GITHUB_WORKFLOW: 'train: nightly',
    GITHUB_RUN_ID: '42',
    GITHUB_RUN_ATTEMPT: '2',
  };
});

const context = (runId: string) => {
  const log = memoryLogger();
  return {
    ctx: createContext(
      { config, file: join(root, 'mlops.config.yaml'), dir: process.cwd(), env },
      { runId, log, progress: silentProgress },
    ),
    log,
  };
};

/** A failure of `step` in run `runId`, through every sink; returns the log. */
async function fail(runId: string, step: string) {
  const { ctx, log } = context(runId);
  await notifyFailure(ctx, alertFor(ctx, step, dataError(`${step} broke`)));
  return log;
}

const open = () => fake.open();

describe('GitHub issue alerts', () => {
  it('opens one labelled issue per workflow and step, with the run link and how to rerun', async () => {
    await fail('run-1', 'train');
    expect(github.calls).toEqual(['GET /issues', 'POST /issues']);
    const [issue] = github.issues;
    expect(issue).toMatchObject({ title: 'mlops: train: nightly failed at train', labels: [{ name: 'mlops-alert' }] });
    expect(issue!.body).toContain('<!-- mlops-alert:train%3A%20nightly:train -->');
    expect(issue!.body).toContain('https://ghe.example/acme/penguins/actions/runs/42 (attempt 2)');
    expect(issue!.body).toContain('failed (data)');
    expect(issue!.body).toContain('train broke');
    expect(issue!.body).toContain('Re-run failed jobs');
    // The workflow run's id, as the dispatch input takes it, and where the failed run's files are.
    expect(issue!.body).toContain('`rekick_run_id=42` and `from_step=train`');
    expect(issue!.body).toContain('artifact `run-train-failed-attempt-2`');
    expect(github.auth).toEqual(new Set([`token ${token}`]));
  });

  it('comments on the open issue when the same step fails again, once per run', async () => {
    await fail('run-1', 'train');
    await fail('run-2', 'train');
    await fail('run-2', 'train');
    await fail('run-1', 'train');
    expect(github.issues).toHaveLength(1);
    expect(github.comments.get(1)!.map((c) => c.body)).toEqual([expect.stringContaining('Step `train` of run `run-2` failed')]);
    expect(github.calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /issues', 'POST /issues/1/comments']);
  });

  it('opens a separate issue for another step, and another workflow', async () => {
    await fail('run-1', 'train');
    await fail('run-2', 'evaluate');
    env.GITHUB_WORKFLOW = 'train';
    await fail('run-3', 'train');
    expect(github.issues.map((i) => i.title)).toEqual([
      'mlops: train: nightly failed at train',
      'mlops: train: nightly failed at evaluate',
      'mlops: train failed at train',
    ]);
    expect(github.comments.size).toBe(0);
  });

  it("closes every open issue of this workflow when a run succeeds, and no other workflow's", async () => {
    await fail('run-1', 'train');
    env.GITHUB_WORKFLOW = 'train'; // its marker must not match "train: nightly"'s
    await fail('run-2', 'train');
    await fail('run-3', 'evaluate');
    await notifyRecovered(context('run-4').ctx);
    expect(open().map((i) => i.title)).toEqual(['mlops: train: nightly failed at train']);
    for (const n of [2, 3]) {
      expect(github.issues[n - 1]).toMatchObject({ state: 'closed', state_reason: 'completed' });
      expect(github.comments.get(n)).toEqual([{ body: expect.stringContaining('run `run-4` succeeded in https://ghe.example/') }]);
    }
  });

  it('warns, naming the call and the permission, when GitHub refuses; the token is never logged', async () => {
    github.status = 403;
    const log = await fail('run-1', 'train');
    const warnings = log.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toEqual([
      expect.stringMatching(
        /could not list the open issues labelled mlops-alert: HTTP 403 Resource not accessible.*may not write issues.*permissions: issues: write/,
      ),
    ]);
    expect(JSON.stringify(log.lines)).not.toContain(token);

    env.GITHUB_API_URL = `http://127.0.0.1:${await freePort()}/api/v3`; // nothing listens: a network error
    const offline = await fail('run-1', 'train');
    expect(offline.lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/could not list the open issues labelled mlops-alert: connect ECONNREFUSED/),
      }),
    ]);
  });

  it('says how to turn Issues on when the repository has them off, as a fork does (410)', async () => {
    github.status = 410;
    const log = await fail('run-1', 'train');
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringMatching(/HTTP 410 .*Issues are disabled in acme\/penguins .*Settings > General > Features > Issues.*MLOPS_WEBHOOK_URL/),
    ]);
  });

  it('does nothing outside a workflow, or when issue alerts are off', async () => {
    env.GITHUB_TOKEN = '';
    await fail('run-1', 'train');
    env.GITHUB_TOKEN = token;
    config.notify.github.issues = false;
    await fail('run-1', 'train').finally(() => (config.notify.github.issues = true));
    expect(github.calls).toEqual([]);
  });
});

describe('GitHub issue alerts through runPipeline', () => {
  const failing = (step: Step): Record<keyof typeof steps, Step> => ({ ...steps, extract: step });

  it("a failed run opens the issue, the run's error surfacing even when GitHub fails, and the next good run closes it", async () => {
    const { ctx, log } = context('pipe-1');
    await expect(runPipeline(ctx, { steps: failing(async () => Promise.reject(dataError('no rows today'))) })).rejects.toThrow(
      'no rows today',
    );
    expect(open()).toEqual([expect.objectContaining({ title: 'mlops: train: nightly failed at extract' })]);
    expect(JSON.stringify(log.lines)).not.toContain(token);

    github.status = 500;
    const down = context('pipe-2');
    await expect(runPipeline(down.ctx, { steps: failing(async () => Promise.reject(dataError('still no rows'))) })).rejects.toThrow(
      'still no rows',
    );
    expect(down.log.lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('HTTP 500') }),
    ]);

    github.status = 0;
    const good = context('pipe-3');
    expect(trained(await runPipeline(good.ctx)).decision.blessed).toBe(true);
    expect(open()).toEqual([]);
    expect(github.comments.get(1)).toEqual([{ body: expect.stringContaining('run `pipe-3` succeeded') }]);
  });
});
