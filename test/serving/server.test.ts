import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { stepDir } from '../../src/context.js';
import { memoryLogger } from '../../src/log.js';
import { readSplit } from '../../src/model/dataset.js';
import { loadPredictor } from '../../src/model/predictor.js';
import { readExtract } from '../../src/model/train.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startServer, type RunningServer } from '../../serving/server.js';
import { isolatedConfig, trainedRun } from '../helpers/model.js';

let root: string;
let config: Config;
let server: RunningServer;
let first: Awaited<ReturnType<typeof trainedRun>>;
const logger = memoryLogger();
const TOKEN = 'test-admin-token';

/** An example request, shipped for users too: `curl -d @data/penguin-request.json`. */
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-serve-'));
  config = await isolatedConfig(root);
  config.serving.log.redact = ['sex'];
  first = await trainedRun(config, 'first');
  server = await startServer({
    serving: config.serving,
    configDir: process.cwd(),
    logger,
    port: 0,
    adminToken: TOKEN,
    source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: 'champion' },
  });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('the prediction server', () => {
  it('is live, ready, and describes its model', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${server.url}/ready`)).json()).toEqual({ status: 'ready', model_version: 'v1' });
    const meta = await (await fetch(`${server.url}/metadata`)).json();
    expect(meta).toMatchObject({
      model_version: 'v1',
      task: 'multiclass',
      label: 'species',
      classes: ['Adelie', 'Chinstrap', 'Gentoo'],
      inference_engine: 'dense',
    });
    expect(meta.features.map((f: { name: string }) => f.name)).toContain('culmen_length_mm');
    expect(meta.training.backend).toBe('wasm');
    expect(meta.metrics).toMatchObject({ accuracy: expect.any(Number), macro_f1: expect.any(Number), log_loss: expect.any(Number) });
  });

  it('predicts one record of raw values: the class, its probabilities, the version and a request id', async () => {
    const res = await post(record, { 'x-request-id': 'req-42' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    // Its own time to answer, which a staged release compares (W3C Server-Timing).
    expect(Number(/^app;dur=([\d.]+)$/.exec(res.headers.get('server-timing') ?? '')?.[1])).toBeGreaterThan(0);
    const body = await res.json();
    expect(body).toMatchObject({ label: 'Gentoo', model_version: 'v1', request_id: 'req-42' });
    expect(Object.values(body.probabilities as Record<string, number>).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('predicts a batch of instances, and sends an unknown category to the out-of-vocabulary slot', async () => {
    const res = await post({ instances: [record, { ...record, island: 'Atlantis' }, { ...record, body_mass_g: null }] });
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body.predictions).toHaveLength(3);
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives the same predictions as the pipeline evaluation, on the whole test split', async () => {
    const { dir, outputs } = await readExtract(first.ctx);
    const test = await readSplit(dir, outputs, 'test', outputs.features);
    const predictor = await loadPredictor(join(stepDir(first.ctx, 'train'), 'model'));
    const expected = predictor.predict(test.columns, test.rows);
    const instances = Array.from({ length: test.rows }, (_, r) =>
      Object.fromEntries(outputs.features.map((f) => [f, test.columns[f]![r]])),
    );
    const { predictions } = await (await post({ instances })).json();
    const classes = predictor.spec.label.classes!;
    predictions.forEach((p: { probabilities: Record<string, number> }, r: number) => {
      // Probabilities are float32s, sent in the fewest digits that read back as the same float32.
      classes.forEach((c, j) => expect(Math.fround(p.probabilities[c]!)).toBe(expected[r * classes.length + j]));
    });
  });

  it.each([
    ['malformed JSON', '{"island": ', { 'content-type': 'application/json' }, 400],
    ['a wrong content type', JSON.stringify(record), { 'content-type': 'text/plain' }, 415],
    ['a body over the limit', JSON.stringify({ ...record, pad: 'x'.repeat(2_000_000) }), { 'content-type': 'application/json' }, 413],
  ])('answers %s with %s', async (_name, body, headers, status) => {
    const res = await fetch(`${server.url}/predict`, { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    expect((await res.json()).error).toBeTruthy();
  });

  it('bounds a chunked body too', async () => {
    const big = new TextEncoder().encode(JSON.stringify({ ...record, pad: 'x'.repeat(2_000_000) }));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 65536) controller.enqueue(big.subarray(i, i + 65536));
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('answers missing, extra and wrong-typed fields, NaN and Infinity with 422 naming each field', async () => {
    const rest: Record<string, unknown> = { ...record };
    delete rest.culmen_depth_mm;
    const res = await post(
      `${JSON.stringify({ ...rest, island: 7, colour: 'blue', body_mass_g: 'NaN' }).slice(0, -1)},"flipper_length_mm":1e999}`,
    );
    expect(res.status).toBe(422);
    const { fields } = await res.json();
    expect(fields.map((f: { field: string }) => f.field).sort()).toEqual([
      'body_mass_g',
      'colour',
      'culmen_depth_mm',
      'flipper_length_mm',
      'island',
    ]);
    expect(fields.find((f: { field: string }) => f.field === 'flipper_length_mm').problem).toContain('Infinity');
    const batch = await post({ instances: [record, { ...record, sex: 3 }] });
    expect((await batch.json()).fields).toEqual([{ field: 'instances[1].sex', problem: 'expected a string or null, got 3' }]);
  });

  it('answers 422 naming the record, not a NaN prediction, for a finite value too large for the model', async () => {
    const res = await post({ instances: [record, { ...record, delta_15_n: -1e308 }] });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({
      fields: [{ field: 'instances[1]', problem: 'a value is too far outside the training data: the model overflows' }],
    });
  });

  it('logs every prediction as a JSON line with the request id, version, redacted inputs, outputs, latency and outlier score', async () => {
    await post({ ...record, culmen_length_mm: 400 }, { 'x-request-id': 'logged-1' });
    // The writer thread appends it soon after the response: wait for it, not for a fixed time.
    const logged = async () =>
      (await readFile(config.serving.log.path, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => l.request_id === 'logged-1');
    await expect.poll(logged, { timeout: 10_000 }).toBeDefined();
    const entry = await logged();
    expect(entry).toMatchObject({
      model_version: 'v1',
      inputs: { ...record, culmen_length_mm: 400, sex: '[redacted]' },
      outputs: { label: expect.any(String) },
    });
    expect(entry.latency_ms).toBeGreaterThan(0);
    expect(entry.outlier_score).toBeGreaterThan(config.serving.outlier_z);
  });

  it('exports Prometheus metrics: requests, latency, classes, drift, outliers, log queue, load failures, version', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'mlops_http_requests_total{route="/predict",status="200",model_version="v1"}',
      'mlops_http_request_duration_seconds_bucket',
      'mlops_predictions_total{class="Gentoo",model_version="v1"}',
      'mlops_feature_psi{feature="culmen_length_mm",model_version="v1"}',
      'mlops_outlier_rate{model_version="v1"}',
      'mlops_outlier_records_total{model_version="v1"}',
      'mlops_prediction_log_queue_depth',
      'mlops_prediction_log_dropped_total 0',
      'mlops_model_load_failures_total',
      'mlops_model_info{model_version="v1",engine="dense"} 1',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('stops within its drain grace while a connection that never sent a request is open', async () => {
    const other = await startServer({
      serving: { ...config.serving, shutdown_grace_seconds: 0.2, log: { ...config.serving.log, path: join(root, 'other.jsonl') } },
      configDir: process.cwd(),
      logger: memoryLogger(),
      port: 0,
      source: { kind: 'registry', registry: openRegistry({ config, configDir: process.cwd(), env: process.env }), alias: 'champion' },
    });
    const idle = connect(Number(new URL(other.url).port), '127.0.0.1');
    await once(idle, 'connect');
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('guards /admin/reload with the bearer token', async () => {
    expect((await fetch(`${server.url}/admin/reload`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${server.url}/admin/reload`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${server.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await ok.json()).toEqual({ version: 'v1', changed: false });
  });

  it('hot-swaps a new champion on reload, and keeps serving the old one when a new version is corrupt', async () => {
    await trainedRun(config, 'second', 7);
    const reload = () => fetch(`${server.url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await (await reload()).json()).toEqual({ version: 'v2', changed: true });
    expect((await (await post(record)).json()).model_version).toBe('v2');

    await trainedRun(config, 'third', 9);
    await writeFile(join(config.registry.path, 'versions/v3/weights.bin'), 'garbage');
    const failed = await reload();
    expect(failed.status).toBe(409);
    expect((await failed.json()).error).toContain('checksum mismatch in registry version v3: weights.bin is corrupted');
    expect((await (await post(record)).json()).model_version).toBe('v2');
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('mlops_model_load_failures_total 1');
    expect(logger.lines.some((l) => l.level === 'error' && l.message.includes('still serving v2'))).toBe(true);
  });
});
