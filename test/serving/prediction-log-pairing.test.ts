import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { RunningServer } from '../../serving/server.js';
import { penguinRequest } from '../helpers/load.js';
import { championServer, isolatedConfig, trainedRun } from '../helpers/model.js';
import { fuzzPayloads, type FuzzPayload } from './fuzz-corpus.js';

/**
 * The prediction log's promise: every line pairs the inputs that were predicted with the
 * prediction made from them. Requests go to a real server; its log is read back, and each line is
 * held against the request it names (parsed as the server parses it) and the response it got.
 */

let root: string;
let config: Config;
let server: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-log-pairing-'));
  config = await isolatedConfig(root);
  await trainedRun(config, 'pairing');
  server = await championServer(config);
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

interface Exchange {
  id: string;
  body: string;
  status: number;
  response: Record<string, unknown>;
}

let sent = 0;
/** Posts each payload to /predict under a request id of its own, 20 at a time. */
async function exchange(payloads: FuzzPayload[]): Promise<Exchange[]> {
  const exchanges: Exchange[] = [];
  for (let i = 0; i < payloads.length; i += 20)
    await Promise.all(
      payloads.slice(i, i + 20).map(async ({ body, type }) => {
        const id = `pairing-${sent++}`;
        const headers = { 'x-request-id': id, ...(type && { 'content-type': type }) };
        const res = await fetch(`${server.url}/predict`, { method: 'POST', headers, body });
        exchanges.push({ id, body, status: res.status, response: (await res.json()) as Record<string, unknown> });
      }),
    );
  return exchanges;
}

/**
 * What the log must hold for an exchange: for a prediction, one line per record with the record
 * as the server parsed it (the last of a key given twice, as JSON.parse keeps) and its prediction
 * from the response; for a refusal, one line with its status.
 */
function expectedLines({ id, body, status, response }: Exchange): object[] {
  if (status !== 200) return [{ request_id: id, status }];
  const { predictions, model_version, request_id, ...single } = response;
  const parsed = JSON.parse(body) as { instances: unknown[] };
  const inputs = predictions ? parsed.instances : [parsed];
  const outputs = (predictions as unknown[] | undefined) ?? [single];
  return inputs.map((record, r) => ({ request_id, model_version, inputs: record, outputs: outputs[r] }));
}

/** Keys as a JSON text writes them, a duplicate counted twice: the colons outside its strings. */
const writtenKeys = (text: string) => text.replace(/"(?:[^"\\]|\\.)*"/g, '').split(':').length - 1;
/** Keys a parse keeps, a duplicate once. */
const keptKeys = (v: unknown): number =>
  Array.isArray(v)
    ? v.reduce((n: number, x) => n + keptKeys(x), 0)
    : typeof v === 'object' && v !== null
      ? Object.values(v).reduce((n: number, x) => n + 1 + keptKeys(x), 0)
      : 0;

/** Holds every exchange's lines in the log against what the request and the response say. */
async function expectLogPairs(exchanges: Exchange[]): Promise<void> {
  const wanted = new Map(exchanges.map((e) => [e.id, expectedLines(e)]));
  // Each entry was handed to the log before its response left; once none is in flight, all are on disk.
  await expect.poll(() => server.log.depth).toBe(0);
  const text = await readFile(config.serving.log.path, 'utf8');
  const logged = new Map<string, object[]>();
  for (const line of text.trim().split('\n')) {
    const { request_id, model_version, inputs, outputs, status } = JSON.parse(line) as Record<string, unknown>;
    if (!wanted.has(request_id as string)) continue; // another test's
    // A reader that keeps the first of a duplicated key must read the same line as one that keeps the last.
    expect(writtenKeys(line), `a key written twice in ${line}`).toBe(keptKeys(JSON.parse(line)));
    const pairing = status === undefined ? { request_id, model_version, inputs, outputs } : { request_id, status };
    logged.set(request_id as string, [...(logged.get(request_id as string) ?? []), pairing]);
  }
  for (const e of exchanges) expect(logged.get(e.id), `request ${e.id}, ${e.status}: ${e.body.slice(0, 200)}`).toEqual(wanted.get(e.id));
}

/** The shipped example request, as `curl -d @data/penguin-request.json` sends it (a line break at its end). */
const record = JSON.parse(penguinRequest) as Record<string, unknown>;
const penguin = JSON.stringify(record);
const json = (body: string): FuzzPayload => ({ body, type: 'application/json' });
/** A record's JSON text with `key` written once more in front, to a value the one after it replaces. */
const twice = (key: string, first: string, r = record) => `{"${key}":${first},${JSON.stringify(r).slice(1)}`;

describe('the prediction log', () => {
  it('pairs every logged input with its prediction: one record, a batch, a pretty-printed batch and the fuzz corpus', async () => {
    const batch = { instances: [record, { ...record, island: 'Dream', sex: null }, { ...record, culmen_length_mm: 39.2 }] };
    const exchanges = await exchange([
      json(penguinRequest),
      json(penguin),
      json(JSON.stringify(batch)),
      json(JSON.stringify(batch, null, 2)),
      ...fuzzPayloads(2500),
    ]);
    expect(exchanges.filter((e) => e.status === 200).length).toBeGreaterThan(100);
    await expectLogPairs(exchanges);
  });

  it('logs the inputs that were predicted when a request writes a key twice, at the top or inside a record', async () => {
    const dream = { ...record, island: 'Dream', culmen_length_mm: 49 };
    const exchanges = await exchange([
      // JSON.parse keeps the last "instances": the two records after it are predicted.
      json(`{"instances":[${JSON.stringify(dream)}],"instances":[${penguin},${JSON.stringify(dream)}]}`),
      json(`{"instances":{"nested":[${penguin}]},"instances":[${JSON.stringify(dream)}]}`),
      json(twice('island', '"Dream"')),
      json(`{"instances":[${twice('culmen_length_mm', '60')},${twice('sex', '{"inner":[{"a":1}]}', dream)}]}`),
    ]);
    expect(exchanges.map((e) => e.status)).toEqual([200, 200, 200, 200]);
    await expectLogPairs(exchanges);
  });
});
