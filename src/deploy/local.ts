import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { logFiles } from '../../serving/log-files.js';
import type { StepContext } from '../context.js';
import { alive, lastWords, spawnMlops, terminate } from '../processes.js';
import { openRegistry } from '../registry/folder.js';
import type { Fleet, HostRequest, Liveness, Server } from './fleet.js';
import type { ProxyClient } from './proxy-client.js';
import { ensureProxyProcess, stopProxyProcess } from './proxy-process.js';

interface LocalServer extends Server {
  pid: number;
  /** The process's own output: its JSON logs. */
  logFile: string;
}

/** Where a deploy target keeps what it knows: `<workdir>/deploy`. */
export const deployDir = (ctx: StepContext) => join(resolve(ctx.configDir, ctx.config.workdir), 'deploy');

/**
 * Prediction servers as `mlops serve` processes on 127.0.0.1, each serving a registry version's
 * folder as is (checksums verified at load), with a prediction log of its own. What runs is kept
 * in `<workdir>/deploy/local.json`.
 */
export class LocalFleet implements Fleet {
  readonly target = 'local';
  private readonly file: string;

  constructor(private readonly ctx: StepContext) {
    this.file = join(deployDir(ctx), 'local.json');
  }

  /** The servers listen on this machine. */
  readonly request: HostRequest = async (url, init) => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };

  proxy(): Promise<ProxyClient> {
    return ensureProxyProcess(this.ctx, this.request);
  }

  stopProxy(): Promise<void> {
    return stopProxyProcess(this.ctx);
  }

  /** Each server's prediction log sits beside serving.log.path, named for the server. */
  private predictions(id: string): string {
    return join(dirname(resolve(this.ctx.configDir, this.ctx.config.serving.log.path)), `${id}.jsonl`);
  }

  async *predictionLog(server: Server): AsyncIterable<string> {
    for (const file of logFiles(this.predictions(server.id), this.ctx.config.serving.log.max_files)) {
      const input = createReadStream(file);
      const opened = await new Promise<boolean>((ok) => input.once('open', () => ok(true)).once('error', () => ok(false)));
      if (opened) yield* createInterface({ input, crlfDelay: Infinity });
    }
  }

  private async load(): Promise<LocalServer[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '[]');
    return (JSON.parse(text) as LocalServer[]).map((s) => (s.running && !alive(s.pid) ? { ...s, running: false } : s));
  }

  private async save(update: (servers: LocalServer[]) => LocalServer[]): Promise<void> {
    const servers = update(await this.load());
    await mkdir(dirname(this.file), { recursive: true });
    await writeFile(this.file, JSON.stringify(servers, null, 2) + '\n');
  }

  async list(): Promise<Server[]> {
    return (await this.load()).sort((a, b) => b.since.localeCompare(a.since));
  }

  async start(version: string, port: number): Promise<Server> {
    const { dir } = await openRegistry(this.ctx.config, this.ctx.configDir).open(version);
    const id = `${version}-${port}`;
    const logs = join(deployDir(this.ctx), 'logs');
    await mkdir(logs, { recursive: true });
    const logFile = join(logs, `${id}.log`);
    const predictions = this.predictions(id);
    const args = ['--config', this.ctx.configFile, '--log-format', 'json', 'serve', '--model-dir', dir, '--port', String(port)];
    const pid = spawnMlops([...args, '--prediction-log', predictions], logFile);
    const server: LocalServer = {
      id,
      version,
      port,
      url: `http://127.0.0.1:${port}`,
      running: true,
      since: new Date().toISOString(),
      pid,
      logFile,
    };
    // A stopped server of the same version is superseded by this one.
    await this.save((all) => [server, ...all.filter((s) => s.id !== id && (s.running || s.version !== version))]);
    return server;
  }

  async liveness(server: Server): Promise<Liveness> {
    const { pid, logFile } = server as LocalServer;
    return alive(pid) ? { exited: false } : { exited: true, reason: lastWords(await readFile(logFile, 'utf8').catch(() => '')) };
  }

  healthy = async () => true;

  async stop(server: Server): Promise<void> {
    await terminate((server as LocalServer).pid, (this.ctx.config.serving.shutdown_grace_seconds + 30) * 1000);
    const since = new Date().toISOString();
    await this.save((all) => all.map((s) => (s.id === server.id ? { ...s, running: false, since } : s)));
  }

  async remove(server: Server): Promise<void> {
    await this.save((all) => all.filter((s) => s.id !== server.id));
    await rm((server as LocalServer).logFile, { force: true });
  }
}
