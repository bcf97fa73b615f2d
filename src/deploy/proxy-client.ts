import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { alive, lastWords, spawnMlops, terminate } from '../processes.js';
import { registerSecret } from '../secrets.js';
import type { Server } from './fleet.js';
import { deployDir } from './local.js';
import { portFree } from './ports.js';

interface ProxyState {
  pid: number;
  port: number;
  /** Started with Docker label discovery. */
  docker: boolean;
  /** The admin token guarding its registration endpoint: this file is the owner's only. */
  token: string;
}

export interface Backend {
  id: string;
  url: string;
  version: string;
  weight: number;
  healthy: boolean;
}

/** The project's proxy as the deployer sees it: what it balances over, and registration. */
export class ProxyClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    }).catch((err: unknown) => {
      throw new MlopsError('transient', `the proxy at ${this.url} did not answer: ${(err as Error).message}`, { cause: err });
    });
    if (!res.ok && res.status !== 404)
      throw new MlopsError('transient', `the proxy refused ${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  }

  async backends(): Promise<Backend[]> {
    return (await (await this.call('GET', '/backends')).json()) as Backend[];
  }

  /** Puts a process server into rotation (containers are discovered by their labels instead). */
  async register(server: Server): Promise<void> {
    await this.call('PUT', `/backends/${encodeURIComponent(server.id)}`, { url: server.url, version: server.version, weight: 1 });
  }

  /** Takes a server out of rotation: no new requests reach it. */
  async deregister(server: Server): Promise<void> {
    await this.call('DELETE', `/backends/${encodeURIComponent(server.id)}`);
  }

  /** Waits until the proxy balances over the server: it discovered it and its health check passed. */
  async waitFor(server: Server, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.backends()).some((b) => b.url === server.url && b.healthy && b.weight > 0)) {
      if (Date.now() > deadline)
        throw new MlopsError('transient', `the proxy at ${this.url} did not take ${server.id} into rotation within ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
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
export async function ensureProxy(ctx: StepContext, docker: boolean): Promise<ProxyClient> {
  const port = ctx.config.deploy.proxy.port;
  const url = `http://127.0.0.1:${port}`;
  const running = await readState(ctx);
  if (running && running.port === port && running.docker === docker) return new ProxyClient(url, running.token);
  if (running) await terminate(running.pid, 10_000); // its port or discovery changed in the config
  if (!(await portFree(port)))
    throw configError(
      `deploy.proxy.port ${port} is taken by another process`,
      'set deploy.proxy.port to a free port, or stop what listens there',
    );
  const token = process.env.MLOPS_ADMIN_TOKEN || randomBytes(24).toString('hex');
  registerSecret(token);
  await mkdir(deployDir(ctx), { recursive: true });
  const logFile = join(deployDir(ctx), 'proxy.log');
  const args = ['--config', ctx.configFile, '--log-format', 'json', 'proxy', '--port', String(port), ...(docker ? ['--docker'] : [])];
  const pid = spawnMlops(args, logFile, { ...process.env, MLOPS_ADMIN_TOKEN: token });
  await writeFile(stateFile(ctx), JSON.stringify({ pid, port, docker, token } satisfies ProxyState, null, 2) + '\n', { mode: 0o600 });
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
  ctx.log.info(`proxy on ${url}${docker ? ', discovering containers by label' : ''}`);
  return new ProxyClient(url, token);
}

/** Stops the project's proxy, if one runs. */
export async function stopProxy(ctx: StepContext): Promise<void> {
  const running = await readState(ctx);
  if (running) await terminate(running.pid, 10_000);
  await rm(stateFile(ctx), { force: true });
}
