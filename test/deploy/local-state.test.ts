import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { waitUntilReady } from '../../src/deploy/fleet.js';
import { LocalFleet, type LocalServer } from '../../src/deploy/local.js';
import { undeploy } from '../../src/deploy/rollout.js';
import type { memoryLogger } from '../../src/log.js';
import { identify, processState, psStartTime } from '../../src/processes.js';
import { openRegistry } from '../../src/registry/registry.js';
import { contextFor, deployTo, isolatedConfig, trainedRun } from '../helpers/model.js';
import { freePort } from '../helpers/ports.js';
import type { Server } from '../../src/step-outputs.js';

let root: string;
let config: Config;
let ctx: StepContext;
const deployFile = (name: string) => join(root, 'work', 'deploy', name);
const state = async () => JSON.parse(await readFile(deployFile('local.json'), 'utf8')) as (Server & { pid: number })[];
const warnings = (c: StepContext) =>
  (c.log as ReturnType<typeof memoryLogger>).lines.filter((l) => l.level === 'warn').map((l) => l.message);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-local-state-'));
  config = await isolatedConfig(root);
  config.project = 'local-state-test';
  await trainedRun(config, 'one'); // v1, to serve
  await deployTo(config, 'local');
  config.serving.shutdown_grace_seconds = 0;
  config.deploy.ready_timeout_seconds = 120; // eight servers load at once on a shared machine
  ctx = await contextFor(config, 'state');
}, 120_000);
afterAll(async () => {
  await undeploy(ctx).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

describe('deploy.target local: the state file', () => {
  let started: LocalServer[] = [];
  afterAll(() => {
    for (const s of started) if (processState({ pid: s.pid }) === 'running') process.kill(s.pid, 'SIGKILL');
  });

  it('loses nothing when eight servers start at once and then stop at once', async () => {
    const fleet = new LocalFleet(ctx);
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    started = await Promise.all(ports.map((port) => fleet.start('v1', port)));
    expect((await state()).map((s) => s.id).sort()).toEqual(started.map((s) => s.id).sort());
    await Promise.all(started.map((s) => waitUntilReady(fleet, s, config.deploy.ready_timeout_seconds * 1000)));

    const stopping = new Date().toISOString();
    await Promise.all(started.map((s) => fleet.stop(s)));
    const after = await state();
    expect(after.map((s) => s.id).sort()).toEqual(started.map((s) => s.id).sort());
    // Every stop was recorded: stopped, and since the stop rather than the start.
    for (const s of after)
      expect({ id: s.id, running: s.running, stoppedLate: s.since >= stopping }).toEqual({ id: s.id, running: false, stoppedLate: true });
    for (const s of started) expect(processState({ pid: s.pid })).toBe('gone');
  }, 240_000);

  it('refuses a damaged state file as a data error naming the file and the key', async () => {
    const saved = await readFile(deployFile('local.json'), 'utf8');
    await writeFile(deployFile('local.json'), saved.replace(/"port": \d+/, '"port": "eighty"'));
    try {
      const err = await new LocalFleet(ctx).list().catch((e: unknown) => e);
      expect(err).toMatchObject({ errorClass: 'data', code: 'file_invalid', message: expect.stringContaining(deployFile('local.json')) });
      expect((err as Error).message).toContain('0.port: expected number, got "eighty"');
    } finally {
      await writeFile(deployFile('local.json'), saved);
    }
  });
});

describe('a pid in the state that belongs to another process now (after a reboot, say)', () => {
  let sleeper: ChildProcess;
  beforeAll(async () => {
    // An unrelated process in a group of its own, holding the pid the state files name.
    sleeper = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => sleeper.once('spawn', r));
  });
  afterEach(async () => {
    await rm(deployFile('local.json'), { force: true });
    await rm(deployFile('proxy.json'), { force: true });
  });
  afterAll(() => process.kill(-sleeper.pid!, 'SIGKILL'));

  /** What a server or the proxy recorded at start: its pid is the sleep's now, its start time another's. */
  const stale = () => ({ pid: sleeper.pid!, started: identify(process.pid).started });

  it('is never signalled by undeploy: the stale server and proxy entries are removed with a warning', async () => {
    const port = await freePort();
    const entry = {
      id: `v1-${port}`,
      version: 'v1',
      port,
      url: `http://127.0.0.1:${port}`,
      running: true,
      since: new Date().toISOString(),
    };
    await writeFile(deployFile('local.json'), JSON.stringify([{ ...entry, ...stale(), logFile: join(root, 'gone.log') }]));
    await writeFile(
      deployFile('proxy.json'),
      JSON.stringify({ ...stale(), port: config.deploy.proxy.port, host: '127.0.0.1', token: 't0ken' }),
    );
    const run = await contextFor(config, 'after-reboot');

    expect(await undeploy(run)).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(sleeper.exitCode).toBeNull();
    expect(sleeper.signalCode).toBeNull();
    expect(await state()).toEqual([]);
    await expect(readFile(deployFile('proxy.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(warnings(run)).toEqual([
      `deploy: pid ${sleeper.pid} of server v1-${port} belongs to another process now; its stale entry is removed`,
      `deploy: pid ${sleeper.pid} of the proxy (${deployFile('proxy.json')}) belongs to another process now; the stale entry is removed`,
    ]);
  });

  it('does not hold a lock: the registry and the deploy state are written at once', async () => {
    const holder = `${sleeper.pid} ${stale().started}`;
    await writeFile(join(config.registry.path, '.lock'), holder);
    await writeFile(deployFile('local.json.lock'), holder);
    const began = Date.now();
    await openRegistry({ config, configDir: process.cwd(), env: process.env }).withLock(async () => undefined, 5_000);
    expect(await new LocalFleet(ctx).list()).toEqual([]);
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(sleeper.exitCode).toBeNull();
  });

  it('tells it apart by `ps` too, where there is no /proc (macOS): start times to the second', () => {
    expect(psStartTime(sleeper.pid!)).toMatch(/\d\d:\d\d:\d\d \d{4}$/);
    expect(psStartTime(sleeper.pid!)).not.toBe(psStartTime(process.pid));
    expect(psStartTime(2 ** 22 + 1)).toBeUndefined(); // above any pid Linux hands out
  });
});
