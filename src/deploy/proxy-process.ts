import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { alive, lastWords, spawnMlops, terminate } from '../processes.js';
import { registerSecret } from '../secrets.js';
import type { HostRequest } from './fleet.js';
import { deployDir } from './local.js';
import { portFree } from './ports.js';
import { ProxyClient } from './proxy-client.js';

/** The proxy process of deploy.target local, kept in `<workdir>/deploy/proxy.json`. */
interface ProxyState {
  pid: number;
  port: number;
  host: string;
  /** The admin token guarding its registration endpoint: this file is the owner's only. */
  token: string;
}

const stateFile = (ctx: StepContext) => join(deployDir(ctx), 'proxy.json');

async function readState(ctx: StepContext): Promise<ProxyState | undefined> {
  const text = await readFile(stateFile(ctx), 'utf8').catch(() => undefined);
  const state = text ? (JSON.parse(text) as ProxyState) : undefined;
  if (state) registerSecret(state.token);
  return state && alive(state.pid) ? state : undefined;
}

/**
 * The project's proxy on `deploy.proxy.port`, started in the background (`mlops proxy`) unless it
 * runs already. A port held by anything else is a config error: clients need a stable address.
 */
export async function ensureProxyProcess(ctx: StepContext, request: HostRequest): Promise<ProxyClient> {
  const { port, host } = ctx.config.deploy.proxy;
  const url = `http://127.0.0.1:${port}`;
  const running = await readState(ctx);
  if (running && running.port === port && running.host === host) return new ProxyClient(url, running.token, request);
  if (running) await terminate(running.pid, 10_000); // its port or address changed in the config
  if (!(await portFree(port)))
    throw configError(
      `deploy.proxy.port ${port} is taken by another process`,
      'set deploy.proxy.port to a free port, or stop what listens there',
    );
  const token = process.env.MLOPS_ADMIN_TOKEN || randomBytes(24).toString('hex');
  registerSecret(token);
  await mkdir(deployDir(ctx), { recursive: true });
  const logFile = join(deployDir(ctx), 'proxy.log');
  const args = ['--config', ctx.configFile, '--log-format', 'json', 'proxy', '--port', String(port), '--host', host];
  const pid = spawnMlops(args, logFile, { ...process.env, MLOPS_ADMIN_TOKEN: token });
  await writeFile(stateFile(ctx), JSON.stringify({ pid, port, host, token } satisfies ProxyState, null, 2) + '\n', { mode: 0o600 });
  for (const deadline = Date.now() + 15_000; ;) {
    const up = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (!alive(pid) || Date.now() > deadline)
      throw new MlopsError('transient', `the proxy did not start: ${lastWords(await readFile(logFile, 'utf8').catch(() => ''))}`, {
        hint: `see ${logFile}`,
      });
    await new Promise((r) => setTimeout(r, 100));
  }
  ctx.log.info(`proxy on ${url}`);
  return new ProxyClient(url, token, request);
}

/** Stops the project's proxy, if one runs. */
export async function stopProxyProcess(ctx: StepContext): Promise<void> {
  const running = await readState(ctx);
  if (running) await terminate(running.pid, 10_000);
  await rm(stateFile(ctx), { force: true });
}
