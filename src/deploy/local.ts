import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { StepContext } from '../context.js';
import { withFileLock } from '../file-lock.js';
import { readJson, removeAbandonedTemps, writeJson } from '../json-file.js';
import { lastWords, processState, terminate } from '../processes.js';
import { serverSpec, serverSpecFor } from '../serving-spec.js';
import { builtInSupport } from '../target-support.js';
import { ROTATION_TIMEOUT_MS, type Fleet, type Liveness, type PredictionLogSource } from './fleet.js';
import { answersOk, type HostRequest } from './host-request.js';
import { hostPort } from './ports.js';
import { reapOrphans, spawnRecorded } from './child-records.js';
import { childRecordsDir, deployDir } from './paths.js';
import type { ProxyClient } from './proxy-client.js';
import { ensureProxyProcess, recordedProxy, stopProxyProcess } from './proxy-process.js';
import { serverLogs } from './server-logs.js';

/** `<workdir>/deploy/local.json`: the servers, each with its process (pid and start time) and its own output. */
const localState = z.array(
  z.object({
    id: z.string().min(1),
    version: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    url: z.string().min(1),
    running: z.boolean(),
    since: z.iso.datetime(),
    pid: z.number().int().positive(),
    started: z.string().optional(),
    logFile: z.string().min(1),
  }),
);
/** A local server as local.json keeps it: a Server with its process and its own output. */
export type LocalServer = z.output<typeof localState>[number];

/** A server's spec, beside its output. */
const specFile = (logFile: string) => logFile.replace(/\.log$/, '.spec.json');

/** Local servers' ids, `<version>-<port>`: their prediction logs share a folder with other logs. */
const SERVER_ID = /^v\d+-\d+$/;

/**
 * Prediction servers as `mlops serve` processes on 127.0.0.1, each serving a registry version's
 * folder as is (checksums verified at load), with a prediction log of its own. What runs is kept
 * in `<workdir>/deploy/local.json`, changed only under its lock file, since the stops of a rollout
 * and other mlops processes change it at once. The proxy is a process too, and the servers join
 * and leave its rotation by registration.
 */
export class LocalFleet implements Fleet<LocalServer> {
  readonly target = 'local';
  readonly supports = builtInSupport.local;
  private readonly file: string;
  private readonly logDir: string;
  readonly predictionStore: string;

  constructor(private readonly ctx: StepContext) {
    this.file = join(deployDir(ctx), 'local.json');
    // Each server's prediction log sits beside serving.log.path, named for the server.
    this.logDir = dirname(resolve(ctx.configDir, ctx.config.serving.log.path));
    this.predictionStore = `${this.logDir}/<server>.jsonl`;
  }

  /** The servers listen on this machine. */
  readonly request: HostRequest = async (url, init) => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };

  /** The proxy process; one started afresh (after a reboot, say) learns the servers still running. */
  async proxy(): Promise<ProxyClient> {
    await this.reap();
    const proxy = await ensureProxyProcess(this.ctx, this.request);
    for (const s of await this.list()) if (s.running) await proxy.register(s);
    return proxy;
  }

  stopProxy(): Promise<void> {
    return stopProxyProcess(this.ctx);
  }

  /** Every server's log file in the folder, whether local.json still knows the server or not. */
  async predictionLogs(since?: string): Promise<PredictionLogSource[]> {
    const names = await readdir(this.logDir).catch(() => [] as string[]);
    const files = await Promise.all(
      names.map(async (name) => ({ name, mtime: (await stat(join(this.logDir, name)).catch(() => undefined))?.mtime.toISOString() ?? '' })),
    );
    return serverLogs(files, since, (id) => SERVER_ID.test(id)).map(({ server, files: log }) => ({
      server,
      lines: () => fileLines(log.map((f) => join(this.logDir, f))),
    }));
  }

  /**
   * Reads the servers, applies `change` and writes them back, holding the lock. A server whose
   * process is gone is stopped; one whose pid another process holds now (after a reboot, say) is a
   * stale entry, removed with a warning, and that process is never signalled.
   */
  private async update(change?: (servers: LocalServer[]) => LocalServer[]): Promise<LocalServer[]> {
    return withFileLock(
      `${this.file}.lock`,
      `the deploy state ${this.file}`,
      async () => {
        const saved = await readJson(this.file, localState, () => []);
        let servers = saved.flatMap((s) => {
          const state = s.running ? processState(s) : 'gone';
          if (state === 'reused') {
            this.ctx.log.warn(`deploy: pid ${s.pid} of server ${s.id} belongs to another process now; its stale entry is removed`);
            return [];
          }
          return [state === 'gone' ? { ...s, running: false } : s];
        });
        const changed = servers.length !== saved.length || servers.some((s, i) => s.running !== saved[i]!.running);
        if (change) servers = change(servers);
        if (change || changed) await writeJson(this.file, localState, servers);
        return servers;
      },
      { log: this.ctx.log },
    );
  }

  /** Stops the children of a deploy killed before it recorded them (child-records.ts), which would hold their ports. */
  private async reap(): Promise<void> {
    const known = [...(await readJson(this.file, localState, () => [])), await recordedProxy(this.ctx)].map((p) => p?.pid);
    await reapOrphans(childRecordsDir(this.ctx), this.ctx.log, (child) => known.includes(child.pid));
    await removeAbandonedTemps(deployDir(this.ctx), this.ctx.log);
  }

  async list(): Promise<LocalServer[]> {
    await this.reap();
    return (await this.update()).sort((a, b) => b.since.localeCompare(a.since));
  }

  async start(version: string, port: number): Promise<LocalServer> {
    const { dir } = await this.ctx.registry.open(version);
    const id = `${version}-${port}`;
    const logs = join(deployDir(this.ctx), 'logs');
    await mkdir(logs, { recursive: true });
    const logFile = join(logs, `${id}.log`);
    // The server runs as its spec says, the config as this process has it: it does not read the file again.
    const spec = serverSpecFor(this.ctx.config, { port, model_dir: dir, prediction_log: join(this.logDir, `${id}.jsonl`) });
    await writeJson(specFile(logFile), serverSpec, spec);
    const spawn = { args: ['--log-format', 'json', 'serve', '--spec', specFile(logFile)], logFile, env: this.ctx.env };
    const { child: identity, settled } = await spawnRecorded(childRecordsDir(this.ctx), `server ${id}`, spawn);
    const server: LocalServer = {
      id,
      version,
      port,
      url: this.serverUrl(version, port),
      running: true,
      since: new Date().toISOString(),
      ...identity,
      logFile,
    };
    // A stopped server of the same version is superseded by this one.
    await this.update((all) => [server, ...all.filter((s) => s.id !== id && (s.running || s.version !== version))]);
    await settled();
    return server;
  }

  async liveness(server: LocalServer): Promise<Liveness> {
    if (processState(server) === 'running') return { exited: false };
    return { exited: true, reason: lastWords(await readFile(server.logFile, 'utf8').catch(() => '')) };
  }

  serverUrl = (_version: string, port: number) => `http://127.0.0.1:${port}`;
  port = (version: string, servers: LocalServer[]) => hostPort(this.ctx, version, servers);
  /** A process has no health check beyond /ready. */
  ready = (server: LocalServer) => answersOk(this.request, `${server.url}/ready`);

  /** Registers the server with the proxy, which then checks its health before it sends it anything. */
  async admit(proxy: ProxyClient, server: LocalServer): Promise<void> {
    await proxy.register(server);
    await proxy.waitFor(server, ROTATION_TIMEOUT_MS);
  }

  async evict(proxy: ProxyClient, server: LocalServer): Promise<void> {
    await proxy.deregister(server);
  }

  async stop(server: LocalServer): Promise<void> {
    await terminate(server, (this.ctx.config.serving.shutdown_grace_seconds + 30) * 1000);
    const since = new Date().toISOString();
    await this.update((all) => all.map((s) => (s.id === server.id ? { ...s, running: false, since } : s)));
  }

  /** Forgets the server and its output; its prediction log stays, for `mlops monitor`. */
  async remove(server: LocalServer): Promise<void> {
    await this.update((all) => all.filter((s) => s.id !== server.id));
    await rm(server.logFile, { force: true });
    await rm(specFile(server.logFile), { force: true });
  }
}

/** The lines of files in turn; one that is gone (rotated away meanwhile) has none. */
async function* fileLines(files: string[]): AsyncIterable<string> {
  for (const file of files) {
    const input = createReadStream(file);
    const opened = await new Promise<boolean>((ok) => input.once('open', () => ok(true)).once('error', () => ok(false)));
    if (opened) yield* createInterface({ input, crlfDelay: Infinity });
  }
}
