import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as deployAction } from '../../src/actions/deploy.js';
import { releaseSummary } from '../../src/actions/summary.js';
import { writeArtifact } from '../../src/artifacts.js';
import { recordFile } from '../../src/artifact-files.js';
import type { Config } from '../../src/config/schema.js';
import { stepDir, type StepContext } from '../../src/context.js';
import { rollout, undeploy } from '../../src/deploy/rollout.js';
import { openFleet } from '../../src/deploy/targets.js';
import { pollUntil } from '../../src/poll.js';
import { MlopsError } from '../../src/errors.js';
import { openRegistry } from '../../src/registry/registry.js';
import type { ReleaseReport } from '../../src/step-outputs.js';
import { contextFor, deployTo, isolatedConfig, trainedRun } from '../helpers/model.js';
import { underLoad } from '../helpers/load.js';
import { registerRotatedVersion } from '../serving/rotated-model.js';

/** Shadow and canary releases through the deploy path: real `mlops serve` processes behind `mlops proxy` (deploy.target local). */
let root: string;
let config: Config;
let ctx: StepContext;
let proxy: string;
let rotated: string;

const registry = () => openRegistry({ config, configDir: process.cwd(), env: process.env });
const versions = async () => ((await (await fetch(`${proxy}/backends`)).json()) as { version: string }[]).map((b) => b.version);

/** `rollout` of `version` in `mode` while 4 clients send predictions; what it returned or threw, and what the clients got. */
async function releaseUnderLoad(version: string, mode: 'shadow' | 'canary') {
  const load = underLoad(proxy, 4);
  const outcome = await rollout(ctx, version, mode).catch((err: unknown) => err);
  return { outcome, clients: await load.stop() };
}

describe('deploy.release shadow and canary (deploy.target local)', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-deploy-release-'));
    config = await isolatedConfig(root);
    config.project = 'release-test';
    await trainedRun(config, 'champion');
    await trainedRun(config, 'retrained', 7);
    rotated = await registerRotatedVersion(config);
    proxy = await deployTo(config, 'local');
    config.deploy.shadow = { share: 1, min_requests: 150, duration: 90 };
    config.deploy.canary = { weight: 0.3, min_requests: 150, duration: 90 };
    // Judged here: agreement and errors. On the shared 2-core test machine the p99 of 150 requests
    // is one or two stalls (16x the champion's in one CI run), so latency is not judged here; the
    // latency verdict is tested with stand-ins (test/serving/canary.test.ts).
    config.deploy.verdict.latency_slack_ms = 60_000;
    ctx = await contextFor(config, 'release');
    await rollout(ctx, 'v1');
  }, 240_000);
  afterAll(async () => {
    await undeploy(ctx).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('promotes a retrained copy after its shadow agrees, and reports the comparison', async () => {
    const { outcome, clients } = await releaseUnderLoad('v2', 'shadow');
    expect(clients.failures).toEqual([]);
    // Clients saw only the champion while the shadow ran; v2 answers once it is rolled out.
    if (outcome instanceof Error) throw outcome;
    const out = outcome as { release: ReleaseReport; version: string };
    expect(out.version).toBe('v2');
    expect(out.release).toMatchObject({ mode: 'shadow', passed: true, failures: [], champion_version: 'v1', agreement: 1 });
    expect(out.release.candidate.requests).toBeGreaterThanOrEqual(150);
    expect(await versions()).toEqual(['v2']);
    expect((await registry().aliases()).champion).toBe('v2');
    expect(await registry().tags('v2')).toMatchObject({ release_mode: 'shadow', release_verdict: 'pass', release_agreement: '1' });
    const saved = JSON.parse(await readFile(join(stepDir(ctx, 'deploy'), 'release.json'), 'utf8')) as ReleaseReport;
    expect(saved).toMatchObject({ version: 'v2', passed: true });
    const summary = releaseSummary(undefined, undefined, outcome as never);
    expect(summary).toContain('#### shadow of v2');
    expect(summary).toMatch(/\| agreement \| 100\.0% of \d+ \|/);
  }, 120_000);

  it('removes a model with rotated labels when its shadow disagrees: a quality error with the numbers, the champion keeps all traffic', async () => {
    const { outcome, clients } = await releaseUnderLoad(rotated, 'shadow');
    expect(clients.failures).toEqual([]);
    expect(clients.backends.every((b) => b.startsWith('v2-'))).toBe(true);
    expect(outcome).toBeInstanceOf(MlopsError);
    expect(outcome).toMatchObject({ errorClass: 'quality' });
    expect((outcome as Error).message).toMatch(
      /agreement with the champion 0\.0% over \d+ predictions is under deploy\.verdict\.min_agreement 95\.0%/,
    );
    expect(await versions()).toEqual(['v2']);
    expect((await registry().aliases()).champion).toBe('v2');
    expect(await registry().tags(rotated)).toMatchObject({ release_mode: 'shadow', release_verdict: 'fail', release_agreement: '0' });
  }, 120_000);

  it('fails the deploy action on a failed verdict, with the comparison table and chart in its job summary', async () => {
    // A run whose record is the rotated model, deployed by the action as a workflow job would, with release: shadow.
    const file = join(root, 'shadow.yaml');
    await writeFile(file, stringify({ ...config, deploy: { ...config.deploy, release: 'shadow' } }));
    const run = await contextFor(config, 'action-shadow');
    await writeArtifact(run, recordFile, { version: rotated, promoted: false, manifest: (await registry().open(rotated)).manifest });
    const summaryFile = join(root, 'summary.md');
    await writeFile(summaryFile, '');
    const env = { INPUT_CONFIG: file, 'INPUT_RUN-ID': 'action-shadow', GITHUB_STEP_SUMMARY: summaryFile };
    Object.assign(process.env, env);
    const load = underLoad(proxy, 4);
    try {
      await deployAction();
      expect(process.exitCode).toBe(1);
    } finally {
      process.exitCode = 0;
      for (const key of Object.keys(env)) delete process.env[key];
    }
    expect((await load.stop()).failures).toEqual([]);
    const summary = await readFile(summaryFile, 'utf8');
    expect(summary).toMatch(new RegExp(`^#### shadow of ${rotated} \\(share 1, \\d+ s\\): fail$`, 'm'));
    expect(summary).toMatch(/^\| agreement \| 0\.0% of \d+ \|$/m);
    expect(summary).toContain('xychart-beta');
    expect(summary).toMatch(/^- agreement with the champion 0\.0% over \d+ predictions is under deploy\.verdict\.min_agreement 95\.0%$/m);
    expect(await versions()).toEqual(['v2']);
  }, 120_000);

  it('promotes a healthy canary under load, with no failed client request', async () => {
    const { outcome, clients } = await releaseUnderLoad('v1', 'canary');
    expect(clients.failures).toEqual([]);
    expect(clients.backends.some((b) => b.startsWith('v1-'))).toBe(true);
    expect((outcome as { release: ReleaseReport }).release).toMatchObject({ mode: 'canary', passed: true, agreement: null });
    expect(await versions()).toEqual(['v1']);
    expect((await registry().aliases()).champion).toBe('v1');
  }, 120_000);

  it('fails a canary whose new server dies mid-stage instead of waiting for requests that cannot come, with no failed client request', async () => {
    const before = ctx.config.deploy.canary;
    ctx.config.deploy.canary = { weight: 0.3, min_requests: 1_000_000 }; // no duration: only its fall can end this stage
    const load = underLoad(proxy, 4);
    try {
      const deploying = rollout(ctx, 'v2', 'canary').catch((err: unknown) => err);
      // Once it answers its share, the new server is stopped, as a crash or a lost host would.
      await pollUntil(
        60_000,
        async () =>
          (((await (await fetch(`${proxy}/release`)).json()) as { candidate?: { requests: number } }).candidate?.requests ?? 0) > 50,
        () => {
          throw new Error('the canary answered no 50 requests in 60 s');
        },
      );
      const fleet = await openFleet(ctx);
      const canary = (await fleet.list()).find((s) => s.running && s.version === 'v2')!;
      await fleet.stop(canary);
      const outcome = await deploying;
      expect(outcome).toBeInstanceOf(MlopsError);
      expect(outcome).toMatchObject({ errorClass: 'quality' });
      expect((outcome as Error).message).toMatch(
        /the canary of v2 failed its verdict: the new server dropped out of the proxy's rotation during the stage/,
      );
      expect(await versions()).toEqual(['v1']);
      expect((await registry().aliases()).champion).toBe('v1');
    } finally {
      ctx.config.deploy.canary = before;
    }
    expect((await load.stop()).failures).toEqual([]);
  }, 120_000);

  it('mlops deploy --release shadow runs the stage from the command line and says what it measured', async () => {
    // A longer stage than the others: a p99 of a few hundred answers of a server just started is its first GC pauses.
    const file = join(root, 'cli.yaml');
    await writeFile(file, stringify({ ...config, deploy: { ...config.deploy, shadow: { share: 1, min_requests: 1000, duration: 90 } } }));
    const load = underLoad(proxy, 4);
    const cli = spawn(process.execPath, ['bin/mlops.js', '--config', file, 'deploy', '--version', 'v2', '--release', 'shadow'], {
      env: { ...process.env, CI: 'true' },
    });
    let [stdout, stderr] = ['', ''];
    cli.stdout.on('data', (d) => (stdout += String(d)));
    cli.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise((done) => cli.on('exit', done));
    expect((await load.stop()).failures).toEqual([]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^shadow passed: \d+ requests, 0 failed, p99 [\d.]+ ms \(champion [\d.]+ ms\), agreement 100\.0%$/m);
    expect(stdout).toMatch(/^v2 serves on http:\/\/127\.0\.0\.1:\d+ \(v2-\d+, rollout/m);
    expect(await versions()).toEqual(['v2']);
  }, 120_000);
});
