import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { openDocker, pingEngine } from '../image/docker.js';
import { lastWords } from '../processes.js';
import { demux } from './docker-exec.js';
import { ROTATION_TIMEOUT_MS, type Fleet, type Liveness, type PredictionLogSource } from './fleet.js';
import { answersOk } from './host-request.js';
import { hostPort } from './ports.js';
import { predictionMount, predictionVolume, volumeFiles, volumeLines } from './prediction-volume.js';
import type { ProxyClient } from './proxy-client.js';
import { EngineFleet } from './engine-fleet.js';
import { serverLogs } from './server-logs.js';
import { versionImage } from './version-image.js';
import { dockerName } from '../docker-name.js';
import { IMAGE_MODEL_DIR } from '../image/context.js';
import { SERVER_SPEC_VARIABLE, serverSpecFor } from '../serving-spec.js';
import { builtInSupport } from '../target-support.js';
import { LABEL, projectFilter, projectLabels } from './labels.js';
import type { Server } from '../step-outputs.js';

type Labels = Record<string, string>;

/**
 * Prediction servers as containers of the version's image on DOCKER_HOST: host network on a
 * 127.0.0.1 port (PORT), labelled with the project, role, port and model version, which is how the
 * proxy discovers them and how this fleet finds them again. Docker itself holds the state. Their
 * prediction logs go to the project's volume (prediction-volume.ts), which outlives them.
 */
export class DockerFleet extends EngineFleet<Server> implements Fleet {
  /** The fleet on DOCKER_HOST's engine, which must answer before anything is asked of it. */
  static async open(ctx: StepContext): Promise<DockerFleet> {
    const docker = openDocker(ctx.env);
    await pingEngine(docker, 'deploying');
    return new DockerFleet(ctx, docker);
  }

  readonly target = 'docker';
  readonly supports = builtInSupport.docker;
  readonly discovery = 'docker';
  readonly predictionStore: string;

  constructor(ctx: StepContext, docker: Docker) {
    super(ctx, docker);
    this.predictionStore = `the Docker volume ${predictionVolume(ctx)} (\`docker volume rm ${predictionVolume(ctx)}\` deletes them)`;
  }

  /** Every server's files on the project's volume, read through the engine. */
  async predictionLogs(since?: string): Promise<PredictionLogSource[]> {
    const files = await this.engine('listing the prediction logs', () => volumeFiles(this.ctx, this.docker));
    return serverLogs(files, since).map(({ server, files: log }) => ({ server, lines: () => volumeLines(this.ctx, this.docker, log) }));
  }

  async list(): Promise<Server[]> {
    const filters = { label: projectFilter(this.ctx.config.project, 'server') };
    const found = await this.engine('listing the servers', () => this.docker.listContainers({ all: true, filters }));
    const servers = await Promise.all(
      found.map(async (c) => {
        const info = await this.docker.getContainer(c.Id).inspect();
        const labels = c.Labels as Labels;
        const [port, version] = [Number(labels[LABEL.port]), labels[LABEL.version]!];
        const running = info.State.Running;
        return {
          id: c.Names[0]!.replace(/^\//, ''),
          version,
          port,
          url: this.serverUrl(version, port),
          running,
          since: running ? info.State.StartedAt : info.State.FinishedAt,
        };
      }),
    );
    return servers.sort((a, b) => b.since.localeCompare(a.since));
  }

  async start(version: string, port: number): Promise<Server> {
    const name = dockerName(this.ctx.config.project, version, port);
    const { image } = await versionImage(this.ctx, this.docker, version);
    const labels: Labels = { ...projectLabels(this.ctx.config.project, 'server'), [LABEL.port]: String(port), [LABEL.version]: version };
    await this.engine(`starting ${name}`, async () => {
      const existing = this.docker.getContainer(name);
      // A stopped container of this version and port (kept for rollback) starts again as it was.
      const kept = await existing.inspect().catch(() => undefined);
      if (kept) return existing.start();
      const predictions = await predictionMount(this.ctx, this.docker, name);
      const spec = serverSpecFor(this.ctx.config, { port, model_dir: IMAGE_MODEL_DIR, prediction_log: predictions.log });
      const container = await this.docker.createContainer({
        name,
        Image: image,
        Env: [`${SERVER_SPEC_VARIABLE}=${JSON.stringify(spec)}`],
        Labels: labels,
        HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: 'unless-stopped' }, Binds: [predictions.bind] },
      });
      await container.start();
    });
    return { id: name, version, port, url: this.serverUrl(version, port), running: true, since: new Date().toISOString() };
  }

  async liveness(server: Server): Promise<Liveness> {
    const container = this.docker.getContainer(server.id);
    const info = await this.engine(`inspecting ${server.id}`, () => container.inspect());
    // The restart policy brings a crashed server back: a restart before it was ever ready is an exit too.
    if (info.State.Running && !info.State.Restarting && info.RestartCount === 0) return { exited: false };
    const logs = demux((await container.logs({ stdout: true, stderr: true, tail: 5 })) as unknown as Buffer);
    return { exited: true, reason: logs.trim() ? lastWords(logs) : `exit code ${info.State.ExitCode}` };
  }

  /** Containers run on the host's network. */
  serverUrl = (_version: string, port: number) => `http://127.0.0.1:${port}`;
  port = (version: string, servers: Server[]) => hostPort(this.ctx, version, servers);

  async ready(server: Server): Promise<boolean> {
    if (!(await answersOk(this.request, `${server.url}/ready`))) return false;
    const info = await this.engine(`inspecting ${server.id}`, () => this.docker.getContainer(server.id).inspect());
    return !info.State.Health || info.State.Health.Status === 'healthy';
  }

  /** Nothing to register: the proxy discovers a running container by its labels. */
  async admit(proxy: ProxyClient, server: Server): Promise<void> {
    await proxy.waitFor(server, ROTATION_TIMEOUT_MS);
  }

  /** Nothing to deregister: the proxy follows the engine's events, and a container told to stop leaves rotation. */
  async evict(): Promise<void> {}

  async stop(server: Server): Promise<void> {
    await this.engine(`stopping ${server.id}`, () =>
      this.docker
        .getContainer(server.id)
        .stop({ t: this.stopSeconds })
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 304) throw err; // 304: already stopped
        }),
    );
  }

  async remove(server: Server): Promise<void> {
    await this.engine(`removing ${server.id}`, () => this.docker.getContainer(server.id).remove({ force: true }));
  }
}
