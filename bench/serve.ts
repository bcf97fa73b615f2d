import { readFileSync } from 'node:fs';
/**
 * `npm run bench:serve`: autocannon against `mlops serve` (a separate process, prediction log on)
 * on this machine, 50 connections:
 *  1. single-record /predict: requests/s and p99 latency;
 *  2. batches of 256 records: rows/s;
 *  3. hot swap under load: 10 model swaps during a 20 s run; every response must be 2xx.
 *
 *   npm run bench:serve -- [--seconds N]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/folder.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-serve-'));
const TOKEN = 'bench-token';

const config = structuredClone((await loadConfig('mlops.config.yaml')).config);
config.registry.path = join(root, 'registry');
config.workdir = join(root, 'work');
config.serving.log.path = join(root, 'predictions', 'predictions.jsonl');
config.data.source.query = config.data.source.query.replace("'data/penguins_raw.csv'", `'${join(process.cwd(), 'data/penguins_raw.csv')}'`);
for (const [runId, seed] of [
  ['a', 1],
  ['b', 2],
] as const) {
  const ctx = createContext(
    { config: { ...config, model: { ...config.model, seed } }, file: '', dir: process.cwd() },
    { runId, log: createLogger({ write: () => {} }), progress: silentProgress },
  );
  await runPipeline(ctx);
}
const file = join(root, 'mlops.config.yaml');
await writeFile(file, stringify(config));

const server = spawn(process.execPath, ['bin/mlops.js', '--config', file, 'serve', '--port', '0'], {
  env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve) =>
  server.stdout.on('data', (d) => /http:\/\/\S+/.test(String(d)) && resolve(/http:\/\/\S+/.exec(String(d))![0])),
);

/** An example request, shipped for users too: `curl -d @data/penguin-request.json`. */
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;
const run = (body: string, duration: number) =>
  autocannon({ url: `${url}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration });

// Warm up the JIT, then measure.
await run(JSON.stringify(record), 2);
const single = await run(JSON.stringify(record), seconds);
const batch = await run(JSON.stringify({ instances: Array.from({ length: 256 }, () => record) }), seconds);

const registry = openRegistry(config, process.cwd());
let swaps = 0;
const swapping = setInterval(async () => {
  const { champion } = await registry.aliases();
  await registry.promote(champion === 'v2' ? 'v1' : 'v2');
  const res = await fetch(`${url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  if ((await res.json()).changed) swaps++;
}, 1900);
const swap = await run(JSON.stringify(record), 20);
clearInterval(swapping);

server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
await rm(root, { recursive: true, force: true });

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log('\n/predict, 50 connections, prediction log on');
console.log(
  `single record     ${fmt(single.requests.average)} req/s   p99 ${single.latency.p99} ms   non-2xx ${single.non2xx}   (target >= 8,000 req/s, p99 <= 25 ms)`,
);
console.log(
  `batch of 256      ${fmt(batch.requests.average * 256)} rows/s  (${fmt(batch.requests.average)} req/s, p99 ${batch.latency.p99} ms)   (target >= 200,000 rows/s)`,
);
console.log(
  `hot swap, 20 s    ${swaps} swaps, ${fmt(swap.requests.average)} req/s, ${swap.non2xx} non-2xx, ${swap.errors} errors   (target: 10 swaps, 0 non-2xx)`,
);
