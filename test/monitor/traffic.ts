import { join } from 'node:path';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { stepDir } from '../../src/context.js';
import { memoryLogger } from '../../src/log.js';
import { readSplit } from '../../src/model/dataset.js';
import { readExtract } from '../../src/model/train.js';
import { openRegistry } from '../../src/registry/registry.js';
import { startServer } from '../../serving/server.js';

export type Row = Record<string, unknown>;

/** The train split of a run as clients would send it: one record of raw feature values per row. */
export async function trainRecords(ctx: StepContext): Promise<Row[]> {
  const { outputs } = await readExtract(ctx);
  const data = await readSplit(stepDir(ctx, 'extract'), outputs, 'train', outputs.features);
  return Array.from({ length: data.rows }, (_, r) => Object.fromEntries(outputs.features.map((f) => [f, data.columns[f]![r]])));
}

export const post = (url: string, body: unknown) =>
  fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
    async (res) => (await res.arrayBuffer(), res.status),
  );

/** Sends records one request each, or in batches. */
export async function send(url: string, records: Row[], batch = 1): Promise<void> {
  for (let i = 0; i < records.length; i += batch) {
    await post(url, batch === 1 ? records[i] : { instances: records.slice(i, i + batch) });
  }
}

/**
 * The real prediction server on the registry's champion, logging to `log`: `traffic` sends its
 * requests, then the server closes, which flushes the log. What a deployed server leaves behind.
 */
export async function servedLog(config: Config, log: string, traffic: (url: string) => Promise<void>): Promise<string> {
  const serving = { ...config.serving, shutdown_grace_seconds: 0, log: { ...config.serving.log, path: log } };
  const registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
  const server = await startServer({
    serving,
    configDir: process.cwd(),
    source: { kind: 'registry', registry, alias: 'champion' },
    logger: memoryLogger(),
    port: 0,
  });
  try {
    await traffic(server.url);
  } finally {
    await server.close();
  }
  return log;
}

/** Records with a feature moved by `delta`: a unit change upstream, say. */
export const shifted = (records: Row[], feature: string, delta: number): Row[] =>
  records.map((r) => ({ ...r, [feature]: typeof r[feature] === 'number' ? (r[feature] as number) + delta : r[feature] }));

export const logIn = (root: string, name: string) => join(root, 'logs', `${name}.jsonl`);
