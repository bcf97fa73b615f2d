import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { readJson, writeJson } from '../json-file.js';
import { lastWords, processState, terminate, type ProcessIdentity } from '../processes.js';
import { registerSecret } from '../secrets.js';
import { proxySpec, proxySpecFor } from '../serving-spec.js';
import type { HostRequest } from './host-request.js';
import { spawnRecorded } from './child-records.js';
import { childRecordsDir, deployDir } from './paths.js';
import { portFree } from './ports.js';
import { ProxyClient } from './proxy-client.js';
import { pollUntil } from '../poll.js';

/** The proxy process of deploy.target local, kept in `<workdir>/deploy/proxy.json`. */
const proxyState = z.object({
  pid: z.number().int().positive(),
  started: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  host: z.string().min(1),
  /** The admin token guarding its registration endpoint: this file is the owner's only. */
  token: z.string().min(1),
});
type ProxyState = z.output<typeof proxyState>;

const stateFile = (ctx: StepContext) => join(deployDir(ctx), 'proxy.json');

/** The proxy that runs, if one does. An entry whose pid another process holds now is stale: removed, with a warning. */
async function readState(ctx: StepContext): Promise<ProxyState | undefined> {
  const file = stateFile(ctx);
  const state = await readJson(file, proxyState.optional(), () => undefined);
  if (!state) return undefined;
  registerSecret(state.token);
  const now = processState(state);
  if (now === 'reused') {
    ctx.log.warn(`deploy: pid ${state.pid} of the proxy (${file}) belongs to another process now; the stale entry is removed`);
    await rm(file, { force: true });
  }
  return now === 'running' ? state : undefined;
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
  if (running) await terminate(running, 10_000); // its port or address changed in the config
  if (!(await portFree(port)))
    throw configError(
      `deploy.proxy.port ${port} is taken by another process`,
      'set deploy.proxy.port to a free port, or stop what listens there',
    );
  const token = ctx.env.MLOPS_ADMIN_TOKEN || randomBytes(24).toString('hex');
  registerSecret(token);
  await mkdir(deployDir(ctx), { recursive: true });
  const logFile = join(deployDir(ctx), 'proxy.log');
  // The proxy runs as its spec says, the config as this process has it; /dashboard lists this config's runs.
  const specFile = join(deployDir(ctx), 'proxy.spec.json');
  await writeJson(specFile, proxySpec, proxySpecFor(ctx.config, { runs_dir: dirname(ctx.runDir) }));
  const { child: proxy, settled } = await spawnRecorded(childRecordsDir(ctx), 'the local proxy', {
    args: ['--log-format', 'json', 'proxy', '--spec', specFile],
    logFile,
    env: { ...ctx.env, MLOPS_ADMIN_TOKEN: token },
  });
  await writeJson(stateFile(ctx), proxyState, { ...proxy, port, host, token }, 0o600);
  await settled();
  const failed = async () => {
    throw new MlopsError('transient', `the proxy did not start: ${lastWords(await readFile(logFile, 'utf8').catch(() => ''))}`, {
      hint: `see ${logFile}`,
    });
  };
  const up = async () => {
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return true;
    if (processState(proxy) !== 'running') await failed();
    return false;
  };
  await pollUntil(15_000, up, failed);
  ctx.log.info(`proxy on ${url}`);
  return new ProxyClient(url, token, request);
}

/** The proxy process proxy.json records, running or not. */
export const recordedProxy = (ctx: StepContext): Promise<ProcessIdentity | undefined> =>
  readJson(stateFile(ctx), proxyState.optional(), () => undefined);

/** Stops the project's proxy, if one runs. */
export async function stopProxyProcess(ctx: StepContext): Promise<void> {
  const running = await readState(ctx);
  if (running) await terminate(running, 10_000);
  await rm(stateFile(ctx), { force: true });
}
