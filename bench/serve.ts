import { readFileSync } from 'node:fs';
/**
 * `npm run bench:serve`: autocannon against `mlops serve` (a separate process, prediction log on)
 * on this machine, 50 connections:
 *  1. single-record /predict: requests/s and p99 latency;
 *  2. batches of 256 records: rows/s;
 *  3. hot swap under load: 10 model swaps during a 20 s run; every response must be 2xx;
 *  4. single records through `mlops proxy` in front of the same server: req/s against direct, and
 *     the CPU each process spends per request;
 *  5. the same two loads with `serving.log.ack: write` (answered once logged), beside phases 1 and 2;
 *  6. kill -9 under a load of batches, with either ack: the answered predictions missing from the log.
 * The run exits 1 when a figure misses its target (printed beside it). `npm run bench:serve`
 * builds dist/ first: the server runs as `node bin/mlops.js serve`, from the compiled code.
 *
 *   npm run bench:serve -- [--seconds N] [--profile-proxy <dir>]   (a V8 CPU profile of the proxy, for DevTools)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { createContext } from '../src/context.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { openRegistry } from '../src/registry/registry.js';
import { answeredUntilKilled } from '../test/helpers/load.js';
import { sampleConfig } from './sample-config.js';
import { targets } from './targets.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, 'profile-proxy': { type: 'string' } } });
const seconds = Number(values.seconds);
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-serve-'));
const TOKEN = 'bench-token';

const config = await sampleConfig(root);
for (const [runId, seed] of [
  ['a', 1],
  ['b', 2],
] as const) {
  const ctx = createContext(
    { config: { ...config, model: { ...config.model, seed } }, file: '', dir: process.cwd(), env: process.env },
    { runId, log: createLogger({ write: () => {} }), progress: silentProgress },
  );
  await runPipeline(ctx);
}
/** `mlops <command> --port 0` with the config `file`, as a process of its own, once it printed its URL. */
async function start(file: string, command: 'serve' | 'proxy', nodeOptions: string[] = []) {
  const child = spawn(process.execPath, [...nodeOptions, 'bin/mlops.js', '--config', file, command, '--port', '0'], {
    env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.on('exit', r));
  const url = await new Promise<string>((resolve) =>
    child.stdout.on('data', (d) => /http:\/\/\S+/.test(String(d)) && resolve(/http:\/\/\S+/.exec(String(d))![0])),
  );
  /** The CPU time the process has used, in seconds (user and system, from /proc). */
  const cpu = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  return { url, cpu, stop: (signal: NodeJS.Signals = 'SIGTERM') => (child.kill(signal), exited) };
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** `mlops serve` on the sample config with its prediction log at `log.path` and acknowledged as `log.ack`. */
async function serve(name: string, log: Partial<typeof config.serving.log> = {}) {
  const file = join(root, `${name}.yaml`);
  await writeFile(file, stringify({ ...config, serving: { ...config.serving, log: { ...config.serving.log, ...log } } }));
  return start(file, 'serve');
}
const server = await serve('queue');
const { url } = server;

/** An example request, shipped for users too: `curl -d @data/penguin-request.json`. */
const record = JSON.parse(readFileSync('data/penguin-request.json', 'utf8')) as Record<string, unknown>;
const run = (body: string, duration: number, at = url) =>
  autocannon({ url: `${at}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 50, duration });

const single = JSON.stringify(record);
const batch = JSON.stringify({ instances: Array.from({ length: 256 }, () => record) });
// Every prediction must reach the log, or the throughput would be bought with lost lines: each
// phase reports what the log wrote and dropped meanwhile.
const logged = async (at: string) => {
  await new Promise((r) => setTimeout(r, 1000)); // let the writer catch up
  const text = await (await fetch(`${at}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { written: metric('mlops_prediction_log_written_total'), dropped: metric('mlops_prediction_log_dropped_total') };
};
/** `body` posted to `via` (the server itself, or a proxy in front of it): the load's figures, the log's and each process's CPU per request. */
const measure = async (body: string, at = url, via = at, proxy?: Awaited<ReturnType<typeof start>>) => {
  const before = { ...(await logged(at)), server: server.cpu(), proxy: proxy?.cpu() ?? 0 };
  const result = await run(body, seconds, via);
  const after = { ...(await logged(at)), server: server.cpu(), proxy: proxy?.cpu() ?? 0 };
  const perRequest = (s: number) => (s / result.requests.total) * 1e6;
  return {
    result,
    written: after.written - before.written,
    dropped: after.dropped - before.dropped,
    serverMicros: perRequest(after.server - before.server),
    proxyMicros: perRequest(after.proxy - before.proxy),
  };
};

// Warm up the JIT on both paths, then measure.
await run(single, 2);
await run(batch, 2);
const singles = await measure(single);
const batches = await measure(batch);

// The same single records through `mlops proxy` in front of the same server, right after the direct phase.
const profile = values['profile-proxy'];
const proxy = await start(join(root, 'queue.yaml'), 'proxy', profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []);
await fetch(`${proxy.url}/backends/bench`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  body: JSON.stringify({ url, version: 'v2' }),
});
while ((await fetch(`${proxy.url}/ready`)).status !== 200) await new Promise((r) => setTimeout(r, 100));
await run(single, 2, proxy.url);
const proxied = await measure(single, url, proxy.url, proxy);
await proxy.stop();

const acked = await serve('ack-write', { ack: 'write', path: join(root, 'ack-write', 'predictions.jsonl') });
await run(single, 2, acked.url);
await run(batch, 2, acked.url);
const ackedSingles = await measure(single, acked.url);
const ackedBatches = await measure(batch, acked.url);
await acked.stop();

const registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
let swaps = 0;
const swapping = setInterval(async () => {
  const { champion } = await registry.aliases();
  await registry.promote(champion === 'v2' ? 'v1' : 'v2');
  const res = await fetch(`${url}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  if ((await res.json()).changed) swaps++;
}, 1900);
const swap = await run(single, 20);
clearInterval(swapping);

await server.stop();

/** Answered predictions missing from the log after a kill -9 under load, with each ack. */
const killed = async (ack: 'queue' | 'write') => {
  const path = join(root, `killed-${ack}`, 'predictions.jsonl');
  const victim = await serve(`killed-${ack}`, { ack, path });
  const answered = await answeredUntilKilled(victim.url, 100_000, () => victim.stop('SIGKILL'));
  const lines = (await readFile(path, 'utf8')).split('\n').length - 1;
  return { answered, lost: Math.max(0, answered - lines) };
};
const losses = { queue: await killed('queue'), write: await killed('write') };
await rm(root, { recursive: true, force: true });

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = ({ written, dropped }: { written: number; dropped: number }) => `log ${fmt(written)} written, ${fmt(dropped)} dropped`;
console.log('\n/predict, 50 connections, prediction log on');
console.log(
  `single record     ${fmt(singles.result.requests.average)} req/s   p99 ${singles.result.latency.p99} ms   non-2xx ${singles.result.non2xx}   ${log(singles)}   (target >= 8,000 req/s, p99 <= 25 ms, 0 dropped)`,
);
console.log(
  `batch of 256      ${fmt(batches.result.requests.average * 256)} rows/s  (${fmt(batches.result.requests.average)} req/s, p99 ${batches.result.latency.p99} ms)   ${log(batches)}   (target >= 200,000 rows/s, 0 dropped)`,
);
console.log(
  `hot swap, 20 s    ${swaps} swaps, ${fmt(swap.requests.average)} req/s, ${swap.non2xx} non-2xx, ${swap.errors} errors   (target: 10 swaps, 0 non-2xx)`,
);

const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log('\nthrough `mlops proxy`, single records, same run');
console.log(
  `proxied           ${fmt(proxied.result.requests.average)} req/s   p99 ${proxied.result.latency.p99} ms   ${ratio(proxied.result.requests.average, singles.result.requests.average)}x of direct (p99 ${singles.result.latency.p99} ms)   non-2xx ${proxied.result.non2xx}   ${log(proxied)}`,
);
console.log(
  `CPU per request   proxy ${fmt(proxied.proxyMicros)} µs, server ${fmt(proxied.serverMicros)} µs (direct: server ${fmt(singles.serverMicros)} µs)   (target: proxy <= 50 µs, >= 0.65x of direct)`,
);
console.log('\nserving.log.ack: write (answered once logged), same run');
console.log(
  `single record     ${fmt(ackedSingles.result.requests.average)} req/s   p99 ${ackedSingles.result.latency.p99} ms   ${ratio(ackedSingles.result.requests.average, singles.result.requests.average)}x of ack: queue   ${log(ackedSingles)}`,
);
console.log(
  `batch of 256      ${fmt(ackedBatches.result.requests.average * 256)} rows/s  (p99 ${ackedBatches.result.latency.p99} ms)   ${ratio(ackedBatches.result.requests.average, batches.result.requests.average)}x of ack: queue   ${log(ackedBatches)}`,
);
console.log('\nkill -9 under load (20 connections, batches of 256): answered predictions missing from the log');
for (const [ack, { answered, lost }] of Object.entries(losses))
  console.log(`ack: ${ack.padEnd(5)}       ${fmt(lost)} of ${fmt(answered)} answered${ack === 'write' ? '   (target 0)' : ''}`);

const goals = targets();
goals.check(losses.write.lost === 0, `ack: write lost ${fmt(losses.write.lost)} answered predictions to kill -9`);
const rowsPerSecond = batches.result.requests.average * 256;
goals.check(singles.result.requests.average >= 8000, `single record: ${fmt(singles.result.requests.average)} req/s < 8,000`);
goals.check(singles.result.latency.p99 <= 25, `single record: p99 ${singles.result.latency.p99} ms > 25 ms`);
for (const [phase, m] of [
  ['single record', singles],
  ['batch of 256', batches],
] as const) {
  goals.check(m.result.non2xx === 0 && m.result.errors === 0, `${phase}: ${m.result.non2xx} non-2xx, ${m.result.errors} errors`);
  goals.check(m.dropped === 0, `${phase}: ${fmt(m.dropped)} log lines dropped`);
}
goals.check(rowsPerSecond >= 200_000, `batch of 256: ${fmt(rowsPerSecond)} rows/s < 200,000`);
goals.check(
  proxied.result.non2xx === 0 && proxied.result.errors === 0,
  `proxied: ${proxied.result.non2xx} non-2xx, ${proxied.result.errors} errors`,
);
goals.check(swaps >= 10, `hot swap: ${swaps} swaps < 10`);
goals.check(swap.non2xx === 0 && swap.errors === 0, `hot swap: ${swap.non2xx} non-2xx, ${swap.errors} errors`);
goals.report();
