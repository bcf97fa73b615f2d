/**
 * `npm run bench:swarm`: deploy.target swarm on the three-host test swarm (`sudo npm run swarm:up`,
 * then MLOPS_TEST_SWARM=/run/mlops-swarm/hosts.json), with the registry .ci/run starts
 * (MLOPS_TEST_REGISTRY_USERNAME and _PASSWORD), as root (it cuts a host's link):
 *  1. the rollout v1 → v2 with 2 replicas while autocannon sends predictions through the proxy;
 *  2. requests per second through the proxy with 1, 2 and 4 replicas, in this run, with the CPU the
 *     machine, the proxy and the prediction tasks spent per request (this is one 2-core machine:
 *     more replicas add no core, so this shows where the time goes);
 *  3. a worker host cut off mid-load: the time until Swarm runs its task on a live node, and until
 *     the proxy balances over 2 tasks again.
 * Every answer under load must be 2xx; the run exits 1 when one is not.
 *
 *   npm run bench:swarm -- [--connections N] [--seconds S]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { createContext } from '../src/context.js';
import { rollout, undeploy } from '../src/deploy/rollout.js';
import { scale } from '../src/deploy/scale.js';
import { listTasks } from '../src/deploy/swarm-api.js';
import { buildHostBase } from '../src/image/base.js';
import { buildImage } from '../src/image/build.js';
import { pushImage } from '../src/image/push.js';
import { createLogger } from '../src/log.js';
import { runPipeline } from '../src/pipeline.js';
import { silentProgress } from '../src/progress.js';
import { penguinRequest } from '../test/helpers/load.js';
import { cutNode, restoreNode, swarmHosts, type SwarmNode } from '../test/helpers/swarm.js';
import type { DeployOutputs } from '../src/step-outputs.js';
import { underLoad } from './load.js';
import { sampleConfig } from './sample-config.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '32' }, seconds: { type: 'string', default: '10' } } });
const hosts = swarmHosts();
const { MLOPS_TEST_REGISTRY_USERNAME: username, MLOPS_TEST_REGISTRY_PASSWORD: password } = process.env;
if (!hosts || !username || !password) {
  console.error(
    'bench:swarm needs the swarm test hosts (MLOPS_TEST_SWARM) and the registry credentials (MLOPS_TEST_REGISTRY_USERNAME, _PASSWORD): see .ci/run',
  );
  process.exit(1);
}
process.env.DOCKER_HOST = hosts.manager;
Object.assign(process.env, { MLOPS_REGISTRY_USERNAME: username, MLOPS_REGISTRY_PASSWORD: password });
const manager = new Docker({ socketPath: hosts.manager.replace('unix://', '') });

const root = await mkdtemp(join(tmpdir(), 'mlops-bench-swarm-'));
const config = await sampleConfig(root);
config.project = 'bench-swarm';
config.image.base = 'mlops-bench-base:host';
config.image.registry = hosts.registry;
config.deploy = { ...config.deploy, replicas: 2, ports: [9300, 9399], ready_timeout_seconds: 60 };
config.deploy.proxy = { ...config.deploy.proxy, host: '0.0.0.0', port: 9290, upstream_timeout_ms: 4000 };
const file = join(root, 'mlops.config.yaml');
await writeFile(file, stringify(config));
const context = (runId: string, target: typeof config.deploy.target, seed = 42) =>
  createContext(
    {
      config: { ...config, model: { ...config.model, seed }, deploy: { ...config.deploy, target } },
      file,
      dir: process.cwd(),
      env: process.env,
    },
    { runId, log: createLogger({ write: () => {} }), progress: silentProgress },
  );
const proxy = `http://${hosts.nodes[0]!.address}:${config.deploy.proxy.port}`;

await buildHostBase(manager, config.image.base, () => {});
// v1 serves first (built, pushed and deployed by the pipeline); v2 is built and pushed only.
await runPipeline(context('a', 'swarm', 1));
await runPipeline(context('b', 'none', 2));
const ctx = context('bench', 'swarm');
await buildImage(ctx, { version: 'v2' });
await pushImage(ctx, 'v2');

const load = (seconds: number) =>
  new Promise<autocannon.Result>((resolve, reject) =>
    autocannon(
      {
        url: `${proxy}/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: penguinRequest,
        connections: Number(values.connections),
        duration: seconds,
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
const proxyUnderLoad = <T>(work: () => Promise<T>) => underLoad(proxy, Number(values.connections), work);

/** CPU seconds a container's main process has used, from /proc (the hosts share this kernel); undefined once it has exited. */
const cpuSeconds = (pid: number): number | undefined => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
};
/** CPU seconds the processes used over `work`, those that ran throughout it. */
async function cpuOver<T>(pids: number[], work: () => Promise<T>): Promise<[T, number]> {
  const before = pids.map(cpuSeconds);
  const result = await work();
  const used = pids.reduce((sum, pid, i) => {
    const [a, b] = [before[i], cpuSeconds(pid)];
    return a === undefined || b === undefined ? sum : sum + b - a;
  }, 0);
  return [result, used];
}
/** The machine's busy CPU seconds so far, all cores (user, nice, system, irq, softirq: the bridge's packets too). */
const machineBusy = () => {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100;
};
/** The main process of each of the project's containers on every node: the proxy, and the tasks. */
async function pids(): Promise<{ proxy: number[]; tasks: number[] }> {
  const out = { proxy: [] as number[], tasks: [] as number[] };
  for (const node of hosts!.nodes) {
    const docker = new Docker({ socketPath: node.socket.replace('unix://', '') });
    for (const c of await docker.listContainers({ filters: { label: ['mlops.project=bench-swarm'] } })) {
      const pid = (await docker.getContainer(c.Id).inspect()).State.Pid;
      (c.Labels['mlops.role'] === 'proxy' ? out.proxy : out.tasks).push(pid);
    }
  }
  return out;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const traffic = (r: autocannon.Result) => `${fmt(r.requests.total)} requests, ${r.non2xx} non-2xx, ${r.errors} errors`;
let bad = 0;
const check = (r: autocannon.Result) => (bad += r.non2xx + r.errors);

const rates: string[] = [];
let rescheduled = 0;
let balanced = 0;
let swap: { outcome: unknown; load: autocannon.Result };
let failover: { outcome: unknown; load: autocannon.Result };
let victim: SwarmNode;
try {
  // 1. The rollout v1 → v2, 2 replicas.
  swap = await proxyUnderLoad(() => rollout(ctx, 'v2'));
  if (swap.outcome instanceof Error) throw swap.outcome;
  check(swap.load);

  // 2. Throughput by replicas, with the CPU each side used.
  for (const replicas of [1, 2, 4]) {
    await scale(ctx, replicas);
    const { proxy: proxyPids, tasks } = await pids();
    const busy = machineBusy();
    const [[r, taskSeconds], proxySeconds] = await cpuOver(proxyPids, () => cpuOver(tasks, () => load(Number(values.seconds))));
    const machine = machineBusy() - busy;
    check(r);
    const perRequest = (cpu: number) => `${Math.round((cpu / r.requests.total) * 1e6)} µs`;
    rates.push(
      `${replicas} replica${replicas > 1 ? 's' : ' '}  ${fmt(r.requests.average).padStart(6)} req/s, p99 ${r.latency.p99} ms; machine ${(machine / r.duration).toFixed(2)} cores busy; CPU per request: proxy ${perRequest(proxySeconds)}, tasks ${perRequest(taskSeconds)}, machine ${perRequest(machine)}; ${traffic(r)}`,
    );
  }

  // 3. A worker host with a task cut off mid-load.
  await scale(ctx, 2);
  const service = (await manager.listServices({ filters: { label: ['mlops.project=bench-swarm', 'mlops.model.version=v2'] } }))[0]!.Spec!
    .Name!;
  const runningOn = async () => {
    const tasks = (await listTasks(manager, { service: [service], 'desired-state': ['running'] })).filter(
      (t) => t.Status.State === 'running',
    );
    return Promise.all(
      tasks.map(async (t) => ((await manager.getNode(t.NodeID!).inspect()) as { Description: { Hostname: string } }).Description.Hostname),
    );
  };
  const where = await runningOn();
  victim = hosts.nodes.find((n) => n.role === 'worker' && where.includes(n.name))!;
  failover = await proxyUnderLoad(async () => {
    const cut = performance.now();
    cutNode(victim);
    try {
      while (!rescheduled || !balanced) {
        await new Promise((r) => setTimeout(r, 250));
        const now = await runningOn();
        if (!rescheduled && now.length === 2 && !now.includes(victim.name)) rescheduled = (performance.now() - cut) / 1000;
        const backends = (await (await fetch(`${proxy}/backends`)).json()) as { id: string; healthy: boolean }[];
        const live = backends.filter((b) => b.id.startsWith(service) && b.healthy && !b.id.endsWith(`@${victim.name}`));
        if (rescheduled && !balanced && live.length === 2) balanced = (performance.now() - cut) / 1000;
        if (performance.now() - cut > 120_000) throw new Error('the task was not running on a live node within 120 s');
      }
    } finally {
      restoreNode(victim);
    }
  });
  if (failover.outcome instanceof Error) throw failover.outcome;
  check(failover.load);
} finally {
  for (const node of hosts.nodes) restoreNode(node);
  await undeploy(ctx);
  await rm(root, { recursive: true, force: true });
}

console.log(
  `\ndeploy.target swarm: ${hosts.nodes.length} hosts (${hosts.nodes.map((n) => `${n.name} ${n.role}`).join(', ')}), proxy on ${proxy}`,
);
console.log(`autocannon: ${values.connections} connections of single-record predictions, through the proxy`);
console.log(
  `v1 -> v2 rollout, 2 replicas   ${(swap.outcome as DeployOutputs).seconds.toFixed(1)} s start to old tasks drained; under load: ${traffic(swap.load)}   (target 0 non-2xx)`,
);
for (const line of rates) console.log(`throughput, ${line}`);
console.log(
  `host ${victim.name} cut off          its task running on a live node after ${rescheduled.toFixed(1)} s, in the proxy's rotation after ${balanced.toFixed(1)} s; under load: ${traffic(failover.load)}   (target 0 non-2xx)`,
);
if (bad) {
  console.error(`${bad} requests failed under load`);
  process.exitCode = 1;
}
