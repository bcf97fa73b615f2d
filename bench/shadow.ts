/**
 * `npm run bench:shadow`: what a shadow release costs the clients. `mlops serve` processes (the
 * champion, and shadows serving the same model) behind `mlops proxy`, all separate processes on
 * this machine; autocannon sends single-record predictions at a fixed rate, in rotating rounds of
 * direct release (the champion alone) and shadow at share 1.0 (every prediction mirrored). The
 * figure is the p99 latency clients see with the shadow over the p99 without, medians of the
 * rounds of each: target at most 10% more. A shadow normally runs on other cores or another host.
 * This machine has 2 cores, so the proxy and the champion get CPU 0, and the load and a shadow
 * standing in for another host get CPU 1, the shadow under SCHED_IDLE (it runs only when the load
 * generator does not, so the timings are the clients'). What is left is the proxy's mirroring. A
 * second shadow on CPU 0 at normal priority shows what sharing the champion's core adds.
 * Builds dist/ first.
 *
 *   npm run bench:shadow -- [--seconds N] [--rounds N] [--rate N]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
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
import { sampleConfig } from './sample-config.js';
import { targets } from './targets.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '8' },
    rate: { type: 'string', default: '300' },
  },
});
const [seconds, rounds, rate] = [Number(values.seconds), Number(values.rounds), Number(values.rate)];
const root = await mkdtemp(join(tmpdir(), 'mlops-bench-shadow-'));
const TOKEN = 'bench-token';

const config = await sampleConfig(root);
await runPipeline(
  createContext(
    { config, file: '', dir: process.cwd(), env: process.env },
    { runId: 'bench', log: createLogger({ write: () => {} }), progress: silentProgress },
  ),
);
const file = join(root, 'mlops.config.yaml');
await writeFile(file, stringify(config));

const children: ChildProcess[] = [];
/** `mlops <args>` in its own process on CPU `cpu` (`idle`: only when nothing else wants it); resolves to the url it prints once listening. */
function start(args: string[], cpu: number, idle = false): Promise<string> {
  const node = [...(idle ? ['chrt', '--idle', '0'] : []), process.execPath, 'bin/mlops.js', '--config', file, ...args, '--port', '0'];
  const child = spawn('taskset', ['-c', String(cpu), ...node], {
    env: { ...process.env, MLOPS_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve) =>
    child.stdout!.on('data', (d) => /http:\/\/\S+/.test(String(d)) && resolve(/http:\/\/\S+/.exec(String(d))![0])),
  );
}
// CPU 0: what answers clients (the proxy and the champion); CPU 1: the load and the shadow standing in for another host.
execFileSync('taskset', ['-a', '-c', '-p', '1', String(process.pid)], { stdio: 'ignore' });
const [champion, elsewhere, beside, proxy] = await Promise.all([
  start(['serve'], 0),
  start(['serve'], 1, true),
  start(['serve'], 0),
  start(['proxy'], 0),
]);
const admin = async (method: string, path: string, body?: object) => {
  const res = await fetch(`${proxy}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` }, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<unknown>;
};
await admin('PUT', '/backends/champion', { url: champion, version: 'v1' });
await admin('PUT', '/backends/shadow-elsewhere', { url: elsewhere, version: 'v1' });
await admin('PUT', '/backends/shadow-beside', { url: beside, version: 'v1' });

/** The shipped example request: one penguin. */
const body = await readFile('data/penguin-request.json', 'utf8');
/**
 * One round at `rate` requests/s: the clients' p99 in ms, from every answer's own time (autocannon's
 * histogram keeps whole milliseconds, too coarse for a 10% difference at a few ms), and anything but a 200.
 */
/** The proxy's CPU time so far, in ms (user + system, from /proc). */
const proxyCpuMs = async () => {
  const fields = (await readFile(`/proc/${children.at(-1)!.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
function round(): Promise<{ p99: number; failed: number; cpuUs: number }> {
  const times: number[] = [];
  const cpuBefore = proxyCpuMs();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${proxy}/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: 10,
        overallRate: rate,
        duration: seconds,
      },
      (err, r) => {
        if (err) return reject(err);
        times.sort((a, b) => a - b);
        const p99 = Math.round(times[Math.ceil(0.99 * times.length) - 1]! * 100) / 100;
        void cpuBefore.then(async (before) =>
          resolve({ p99, failed: r.errors + r.timeouts + r.non2xx, cpuUs: (((await proxyCpuMs()) - before) * 1000) / times.length }),
        );
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => status === 200 && times.push(ms));
  });
}

const p99s = { direct: [] as number[], elsewhere: [] as number[], beside: [] as number[] };
const cpu = { direct: [] as number[], elsewhere: [] as number[] };
let failed = 0;
let mirrored = 0;
/** A round with every prediction mirrored to the shadow at `url`. */
async function shadowRound(url: string) {
  await admin('PUT', '/release', { mode: 'shadow', url, share: 1 });
  const r = await round();
  const report = (await admin('DELETE', '/release')) as { candidate: { requests: number } };
  mirrored += report.candidate.requests;
  return r;
}
await round(); // warm-up: connections, JIT and kernels
// Every shadow server but the one in a round is held out of the rotation by its release; between rounds only the champion serves.
await admin('PUT', '/backends/shadow-elsewhere', { url: elsewhere, version: 'v1', weight: 0 });
await admin('PUT', '/backends/shadow-beside', { url: beside, version: 'v1', weight: 0 });
for (let i = 0; i < rounds; i++) {
  const d = await round();
  const e = await shadowRound(elsewhere);
  const b = await shadowRound(beside);
  p99s.direct.push(d.p99);
  p99s.elsewhere.push(e.p99);
  p99s.beside.push(b.p99);
  cpu.direct.push(d.cpuUs);
  cpu.elsewhere.push(e.cpuUs);
  failed += d.failed + e.failed + b.failed;
  console.log(`round ${i + 1}: p99 direct ${d.p99} ms, shadow elsewhere ${e.p99} ms, shadow on the champion's core ${b.p99} ms`);
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const added = (v: number[]) => median(v) / median(p99s.direct) - 1;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

const goals = targets();
console.log(`\n${rate} predictions/s, 10 connections, ${rounds} rounds of ${seconds} s each; ${mirrored} predictions mirrored`);
console.log(`p99 direct release: ${median(p99s.direct)} ms`);
console.log(`p99 shadow at share 1.0, the shadow standing in for another host: ${median(p99s.elsewhere)} ms`);
console.log(`p99 shadow at share 1.0, the shadow on the champion's core: ${median(p99s.beside)} ms`);
const figure = `added p99 latency of the proxy's mirroring: ${pct(added(p99s.elsewhere))} (target <= 10%)`;
console.log(figure);
console.log(`added p99 latency with the shadow on the champion's core: ${pct(added(p99s.beside))}`);
console.log(`the proxy's CPU per prediction: ${median(cpu.direct).toFixed(0)} µs direct, ${median(cpu.elsewhere).toFixed(0)} µs mirrored`);
goals.check(added(p99s.elsewhere) <= 0.1, figure);
goals.check(failed === 0, `${failed} failed client requests (target 0)`);

for (const child of children) child.kill('SIGTERM');
await Promise.all(children.map((c) => new Promise((r) => (c.exitCode === null ? c.on('exit', r) : r(null)))));
await rm(root, { recursive: true, force: true });
goals.report();
