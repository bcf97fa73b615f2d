import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import type { ModelCard } from '../../src/model/train.js';
import { monitor } from '../../src/monitor/monitor.js';
import type { MonitorReport } from '../../src/monitor/report.js';
import { openRegistry } from '../../src/registry/registry.js';
import { DriftMonitor } from '../../serving/monitor.js';
import { fakeGitHub } from '../helpers/fake-github.js';
import { contextFor, isolatedConfig, trainedRun } from '../helpers/model.js';
import { logIn, post, send, servedLog, shifted, trainRecords, type Row } from './traffic.js';

let root: string;
let config: Config;
let records: Row[];
let github: Awaited<ReturnType<typeof fakeGitHub>>;
const webhook: { text: string }[] = [];
let hook: ReturnType<typeof createServer>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-monitor-'));
  config = await isolatedConfig(root);
  config.monitoring.min_volume = 200;
  const { ctx } = await trainedRun(config, 'train-1'); // v1, the champion
  records = await trainRecords(ctx);
  github = await fakeGitHub();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c)).on('end', () => (webhook.push(JSON.parse(body)), res.end('ok')));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  config.notify.webhook.url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
}, 120_000);
afterAll(async () => {
  await github.close();
  hook.close();
  await rm(root, { recursive: true, force: true });
});

/** A monitor run as the scheduled workflow makes it: in GitHub Actions, with the workflow's token. */
const inWorkflow = () => {
  vi.stubEnv('GITHUB_TOKEN', 'ghs_monitorToken0123456789');
  vi.stubEnv('GITHUB_REPOSITORY', 'acme/penguins');
  vi.stubEnv('GITHUB_API_URL', github.apiUrl);
  vi.stubEnv('GITHUB_WORKFLOW', 'monitor');
  vi.stubEnv('GITHUB_RUN_ID', '7');
};
const run = async (runId: string, log: string): Promise<{ ctx: StepContext; report: Awaited<ReturnType<typeof monitor>> }> => {
  const ctx = await contextFor(config, runId);
  return { ctx, report: await monitor(ctx, { logs: [log], window: '1h' }) };
};

describe('mlops monitor over the real prediction log', () => {
  let drifted: string;
  let clean: string;
  let moved: Row[];
  let alerted: MonitorReport;
  beforeAll(async () => {
    // Two passes over the training rows, one request each: what the model saw in training.
    clean = await servedLog(config, logIn(root, 'clean'), (url) => send(url, [...records, ...records]));
    // The same rows with culmen length 15 mm longer: a unit or calibration change upstream.
    moved = shifted(records, 'culmen_length_mm', 15);
    drifted = await servedLog(config, logIn(root, 'drifted'), (url) => send(url, [...moved, ...moved], 4));
    inWorkflow();
  }, 120_000);
  afterAll(() => vi.unstubAllEnvs());

  it('measures a clean window per version and finds it within every threshold', async () => {
    const { report } = await run('mon-0', clean);
    expect(report.versions).toHaveLength(1);
    const [v1] = report.versions;
    expect(v1).toMatchObject({
      version: 'v1',
      inRegistry: true,
      predictions: 2 * records.length,
      requests: 2 * records.length,
      breaches: [],
    });
    expect(v1!.errorRate).toBe(0);
    expect(v1!.latencyMs!.p50).toBeGreaterThan(0);
    expect(v1!.latencyMs!.p99).toBeGreaterThanOrEqual(v1!.latencyMs!.p95);
    // The very rows the reference was computed from: no drift at all.
    for (const value of Object.values(v1!.psi)) expect(value).toBeLessThan(0.01);
    expect(Object.keys(v1!.psi).sort()).toEqual(Object.keys(records[0]!).sort());
    expect(v1!.classPsi).toBeLessThan(0.05);
    expect(Object.keys(v1!.classes!)).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(github.state.issues).toEqual([]);
  });

  it('alerts exactly once on injected drift: one issue naming the version, the metric, the value, the threshold and what to do', async () => {
    const { report } = await run('mon-1', drifted);
    alerted = report;
    const [v1] = report.versions;
    expect(v1!.predictions).toBe(2 * records.length);
    expect(v1!.requests).toBe(Math.ceil((2 * records.length) / 4)); // batches of 4: one request each
    const psi = v1!.breaches.filter((b) => b.metric === 'psi');
    expect(psi).toEqual([{ metric: 'psi', feature: 'culmen_length_mm', value: expect.any(Number), threshold: 0.2 }]);
    expect(psi[0]!.value).toBeGreaterThan(1);

    expect(github.state.calls.filter((c) => c.startsWith('POST'))).toEqual(['POST /issues']);
    const [issue] = github.state.issues;
    expect(issue).toMatchObject({ title: 'mlops: model v1 breached its monitoring thresholds', labels: [{ name: 'mlops-alert' }] });
    expect(issue!.body).toContain('<!-- mlops-alert:monitor:monitor/v1 -->');
    expect(issue!.body).toMatch(/Model version v1 breached \d+ monitoring thresholds? over the 1h/);
    expect(issue!.body).toContain(
      `drift (PSI) of culmen_length_mm is ${Number(psi[0]!.value.toPrecision(3))}, above 0.2 (monitoring.thresholds.psi)`,
    );
    expect(issue!.body).toContain('Look upstream for a change');
    expect(webhook).toHaveLength(1);
    expect(webhook[0]!.text).toContain('drift (PSI) of culmen_length_mm');
  });

  it('comments on the same issue when the drift persists, once per monitor run, and opens no other', async () => {
    await run('mon-2', drifted);
    await run('mon-2', drifted); // a re-run attempt of the same workflow run
    expect(github.state.issues).toHaveLength(1);
    expect(github.state.comments.get(1)).toEqual([{ body: expect.stringContaining('drift (PSI) of culmen_length_mm') }]);
    expect(github.state.comments.get(1)![0]!.body).toContain('<!-- mlops-run:mon-2 -->');
  });

  it('closes the issue on the next clean run', async () => {
    await run('mon-3', clean);
    expect(github.open()).toEqual([]);
    expect(github.state.issues[0]).toMatchObject({ state: 'closed', state_reason: 'completed' });
    expect(github.state.comments.get(1)!.at(-1)!.body).toContain('run `mon-3` succeeded');
  });

  it("bins as the server's drift gauge does: the same predictions give the same PSI", async () => {
    const { dir } = await openRegistry({ config, configDir: process.cwd(), env: process.env }).open('v1');
    const read = async (name: string) => JSON.parse(await readFile(join(dir, name), 'utf8'));
    const card = (await read('metadata.json')) as ModelCard;
    const served = new DriftMonitor(await read('preprocess.json'), card.reference, 10_000);
    const rows = [...moved, ...moved];
    served.observe(Object.fromEntries(Object.keys(rows[0]!).map((f) => [f, rows.map((r) => r[f] as never)])), rows.length, () => false);
    const gauge = served.psi();
    expect(Object.keys(alerted.versions[0]!.psi).sort()).toEqual(Object.keys(gauge).sort());
    for (const [feature, value] of Object.entries(alerted.versions[0]!.psi)) expect(value).toBeCloseTo(gauge[feature]!, 9);
  });

  it("keeps every run's results in the version's history on the registry, oldest first", async () => {
    const history = await openRegistry({ config, configDir: process.cwd(), env: process.env }).monitoringHistory('v1');
    expect(history.map((h) => h.runId)).toEqual(['mon-0', 'mon-1', 'mon-2', 'mon-2', 'mon-3']);
    expect(history.map((h) => h.breaches.length > 0)).toEqual([false, true, true, true, false]);
    expect(history[1]!.psi.culmen_length_mm).toBeGreaterThan(1);
    expect(history[1]!.window.duration).toBe('1h');
  });

  it('says in the report which breaches reached nobody: none while the issue or the webhook has them, every one on a fork with Issues off and no webhook', async () => {
    expect(alerted.unalerted).toEqual([]);
    github.state.status = 410; // Issues off, as on a fork
    const url = config.notify.webhook.url;
    config.notify.webhook.url = '';
    try {
      const { report } = await run('mon-fork', drifted);
      expect(report.unalerted).toEqual(['v1']);
      github.state.status = 0;
      config.notify.webhook.url = url; // the webhook alone is enough
      const { report: hooked } = await run('mon-hook', drifted);
      expect(hooked.unalerted).toEqual([]);
      await run('mon-clean', clean); // closes the issue the webhook's run opened
    } finally {
      github.state.status = 0;
      config.notify.webhook.url = url;
    }
  });
});

describe('a monitor that cannot do its work', () => {
  beforeAll(inWorkflow);
  afterAll(() => vi.unstubAllEnvs());

  it('fails and alerts as such, and the next monitor run that works closes that issue', async () => {
    await expect(run('mon-broken', join(root, 'logs', 'missing.jsonl'))).rejects.toMatchObject({ errorClass: 'config' });
    const failed = github.open();
    expect(failed).toEqual([expect.objectContaining({ title: 'mlops: the prediction monitor failed' })]);
    expect(failed[0]!.body).toContain('<!-- mlops-alert:monitor:monitor -->');
    expect(failed[0]!.body).toMatch(/missing\.jsonl: no such file or folder[\s\S]*The monitor failed \(config\) and judged nothing/);
    await run('mon-works', logIn(root, 'clean'));
    expect(github.open()).toEqual([]);
  });
});

describe('the error rate, from the failed requests the server logs', () => {
  it('counts requests answered 4xx by status and alerts above monitoring.thresholds.error_rate', async () => {
    const log = await servedLog(config, logIn(root, 'errors'), async (url) => {
      await send(url, records);
      for (let i = 0; i < 30; i++) await post(url, { ...records[i], culmen_length_mm: 'long' }); // 422
    });
    const ctx = await contextFor(config, 'mon-errors');
    const [v1] = (await monitor(ctx, { logs: [log] })).versions;
    expect(v1).toMatchObject({ predictions: records.length, requests: records.length + 30, failed: { '422': 30 } });
    expect(v1!.errorRate).toBeCloseTo(30 / (records.length + 30), 6);
    expect(v1!.breaches).toContainEqual({ metric: 'error_rate', value: v1!.errorRate, threshold: 0.05 });
  });
});
