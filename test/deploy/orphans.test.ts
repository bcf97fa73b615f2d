import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { LocalFleet } from '../../src/deploy/local.js';
import { childRecordsDir } from '../../src/deploy/paths.js';
import { recordedProxy } from '../../src/deploy/proxy-process.js';
import { undeploy } from '../../src/deploy/rollout.js';
import type { memoryLogger } from '../../src/log.js';
import { pollUntil } from '../../src/poll.js';
import { processState, spawnMlops, thisProcess, type ProcessIdentity } from '../../src/processes.js';
import { contextFor, deployTo, isolatedConfig } from '../helpers/model.js';

/* A deploy killed between spawning a child (the local proxy here) and recording it in its state. */
let root: string;
let config: Config;
let ctx: StepContext;
let proxyUrl: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-orphans-'));
  config = await isolatedConfig(root);
  proxyUrl = await deployTo(config, 'local');
  ctx = await contextFor(config, 'orphans');
});
afterAll(async () => {
  await undeploy(ctx).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

const proxyArgs = () => ['--config', ctx.configFile, '--log-format', 'json', 'proxy', '--port', String(config.deploy.proxy.port)];
const answers = () =>
  fetch(`${proxyUrl}/health`).then(
    (r) => r.ok,
    () => false,
  );
const untilAnswers = () => pollUntil(15_000, answers, () => expect.fail(`nothing answered on ${proxyUrl}`), 100);
const warnings = () => (ctx.log as ReturnType<typeof memoryLogger>).lines.filter((l) => l.level === 'warn').map((l) => l.message);
const reaped = (pid: number) => `deploy: the local proxy, pid ${pid}, was started by a deploy killed before it recorded it; stopping it`;
const exited = (child: ReturnType<typeof spawn>) => new Promise((resolve) => child.once('exit', resolve));
/** A record as a killed deploy left it: its owner a process that is gone. */
async function leftBy(id: string, state: 'starting' | 'spawned', child?: ProcessIdentity): Promise<void> {
  const gone = spawn('true');
  await exited(gone);
  await mkdir(childRecordsDir(ctx), { recursive: true });
  const owner = { pid: gone.pid!, host: hostname() };
  await writeFile(join(childRecordsDir(ctx), `${id}.json`), JSON.stringify({ what: 'the local proxy', state, owner, child }));
}

it('reaps the proxy of a deploy killed after spawning it: the next deploy takes its port', async () => {
  const script = `
    import { spawnRecorded } from './src/deploy/child-records.ts';
    const [dir, logFile, ...args] = process.argv.slice(1);
    await spawnRecorded(dir, 'the local proxy', { args, logFile, env: { ...process.env, MLOPS_ADMIN_TOKEN: 'orphan' } });
    process.kill(process.pid, 'SIGKILL');`;
  const args = [childRecordsDir(ctx), join(root, 'orphan.log'), ...proxyArgs()];
  await exited(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], { stdio: 'ignore' }));
  const [record] = await readdir(childRecordsDir(ctx));
  const orphan = (JSON.parse(await readFile(join(childRecordsDir(ctx), record!), 'utf8')) as { child: ProcessIdentity }).child;
  await untilAnswers();

  const fleet = new LocalFleet(ctx);
  await fleet.proxy(); // "port is taken by another process" without the reaping
  expect(processState(orphan)).toBe('gone');
  expect(warnings()).toContain(reaped(orphan.pid));
  expect(await readdir(childRecordsDir(ctx))).toEqual([]);
  expect(await answers()).toBe(true);

  // Killed after recording it in proxy.json, before dropping the record: the proxy is kept.
  await leftBy('0recorded000', 'spawned', await recordedProxy(ctx));
  await fleet.list();
  expect(await answers()).toBe(true);
  await fleet.stopProxy();
}, 60_000);

it('finds a child spawned before its pid was recorded by its environment, and undeploy stops it', async () => {
  const orphan = spawnMlops(proxyArgs(), join(root, 'orphan.log'), {
    ...process.env,
    MLOPS_CHILD_ID: '0starting000',
    MLOPS_ADMIN_TOKEN: 'orphan',
  });
  await leftBy('0starting000', 'starting');
  await untilAnswers();
  await undeploy(ctx);
  expect(processState(orphan)).toBe('gone');
  expect(warnings()).toContain(reaped(orphan.pid));
}, 60_000);

it('leaves alone the child of a deploy still at work', async () => {
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  await mkdir(childRecordsDir(ctx), { recursive: true });
  const record = join(childRecordsDir(ctx), '0atwork00000.json');
  const at = { what: 'the local proxy', state: 'spawned', owner: thisProcess(), child: { pid: sleeper.pid } };
  await writeFile(record, JSON.stringify(at));
  await new LocalFleet(ctx).list();
  expect(sleeper.exitCode).toBeNull();
  await rm(record);
  sleeper.kill('SIGKILL');
});
