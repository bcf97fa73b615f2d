import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { openDocker, pingEngine } from '../image/docker.js';
import { IMAGE_MODEL_DIR, PREDICTIONS_DIR } from '../image/context.js';
import { SERVER_SPEC_VARIABLE, serverSpecFor, type ServerSpec } from '../serving-spec.js';
import { builtInSupport } from '../target-support.js';
import { LABEL, projectFilter, projectLabels } from './labels.js';
import { lastWords } from '../processes.js';
import { pollUntil } from '../poll.js';
import { dockerName } from '../docker-name.js';
import type { Server } from '../step-outputs.js';
import { demux } from './docker-exec.js';
import { ROTATION_TIMEOUT_MS, type Fleet, type Liveness, type PredictionLogSource } from './fleet.js';
import { predictionVolume } from './prediction-volume.js';
import type { ProxyClient } from './proxy-client.js';
import { listTasks, taskLogs, updateService, type SwarmTask } from './swarm-api.js';
import { swarmPredictionLogs } from './swarm-logs.js';
import { EngineFleet } from './engine-fleet.js';
import { pullAuth, versionImage } from './version-image.js';

type Labels = Record<string, string>;
const SECOND = 1e9; // the engine's durations are in nanoseconds

/** A version's Swarm service: its tasks listen on `port` + slot − 1, slots 1 to `slots`. */
export interface SwarmServer extends Server {
  replicas: number;
  slots: number;
}

/** Task states past which a task never runs again. */
const ENDED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/**
 * Prediction servers as one Swarm service per version (and first port), of deploy.replicas tasks
 * that the manager at DOCKER_HOST spreads over the swarm's nodes, from the image pushed by digest.
 * Tasks run on their node's host network (the proxy reaches them at the node's address, on the
 * service's port plus the task's slot less one), restart on failure, and move to a live node when
 * theirs goes down: Swarm does that. A version's service is kept at 0 replicas for rollback, as the
 * docker target keeps a stopped container. The proxy runs on the manager and follows the tasks
 * through its API. Each node keeps the prediction logs of its tasks on its own volume.
 *
 * One service per version, not one updated in place: a rollback returns to a kept version at once,
 * whatever came between, and the rollout (rollout.ts) stays the same as every other target's.
 */
export class SwarmFleet extends EngineFleet<SwarmServer> implements Fleet<SwarmServer> {
  /** The fleet of the swarm whose manager answers at DOCKER_HOST. */
  static async open(ctx: StepContext): Promise<SwarmFleet> {
    const docker = openDocker(ctx.env);
    await pingEngine(docker, 'deploying');
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable)
      throw configError(
        `the Docker engine at DOCKER_HOST is not a swarm manager (swarm state: ${info.Swarm?.LocalNodeState || 'inactive'})`,
        'point DOCKER_HOST at a manager node (`docker node ls` works there), or make this one with `docker swarm init`',
      );
    return new SwarmFleet(ctx, docker);
  }

  readonly target = 'swarm';
  readonly supports = builtInSupport.swarm;
  readonly discovery = 'swarm';
  readonly predictionStore: string;

  constructor(ctx: StepContext, docker: Docker) {
    super(ctx, docker);
    this.predictionStore = `the Docker volume ${predictionVolume(ctx)} on each node of the swarm`;
  }

  predictionLogs(since?: string): Promise<PredictionLogSource[]> {
    return this.engine('reading the prediction logs of the swarm', () => swarmPredictionLogs(this.ctx, this.docker, since));
  }

  async list(): Promise<SwarmServer[]> {
    const filters = { label: projectFilter(this.ctx.config.project, 'server') };
    const services = await this.engine('listing the services', () => this.docker.listServices({ filters }));
    return services.map((s) => this.server(s)).sort((a, b) => b.since.localeCompare(a.since));
  }

  private server(service: Docker.Service): SwarmServer {
    const spec = service.Spec!;
    const labels = spec.Labels as Labels;
    const [port, version] = [Number(labels[LABEL.port]), labels[LABEL.version]!];
    const replicas = spec.Mode?.Replicated?.Replicas ?? 0;
    return {
      id: spec.Name!,
      version,
      port,
      url: this.serverUrl(version, port),
      running: replicas > 0,
      since: service.UpdatedAt ?? service.CreatedAt ?? '',
      replicas,
      slots: Number(labels[LABEL.slots]),
    };
  }

  /** The first port of `deploy.swarm.max_replicas` ports that no other version's service reserves; a kept version's own. */
  async port(version: string, servers: SwarmServer[]): Promise<number> {
    const kept = servers.find((s) => !s.running && s.version === version);
    if (kept) return kept.port;
    const [first, last] = this.ctx.config.deploy.ports;
    const slots = this.ctx.config.deploy.swarm.max_replicas;
    for (let port = first; port + slots - 1 <= last; port++) {
      const clash = servers.find((s) => port < s.port + s.slots && s.port < port + slots);
      if (!clash) return port;
      port = clash.port + clash.slots - 1;
    }
    throw configError(
      `deploy.ports [${first}, ${last}] has no ${slots} free ports in a row for another version (deploy.swarm.max_replicas)`,
      'widen deploy.ports, lower deploy.retire.keep, or `mlops undeploy`',
    );
  }

  async start(version: string, port: number): Promise<SwarmServer> {
    const name = dockerName(this.ctx.config.project, version, port);
    const { replicas, swarm } = this.ctx.config.deploy;
    const kept = (await this.docker
      .getService(name)
      .inspect()
      .catch(() => undefined)) as { Spec: Docker.ServiceSpec } | undefined;
    const slots = kept ? Number(kept.Spec.Labels?.[LABEL.slots]) : swarm.max_replicas;
    if (replicas > slots)
      throw configError(
        `${replicas} tasks of ${version} need ${replicas} ports, and ${name} has ${slots}`,
        'ask for fewer, or raise deploy.swarm.max_replicas',
      );
    if (kept) {
      // A version kept for rollback comes back as it was, with deploy.replicas tasks, in rotation.
      await this.update(name, (spec) => {
        spec.Mode = { Replicated: { Replicas: replicas } };
        spec.Labels = { ...spec.Labels, [LABEL.weight]: '1' };
      });
    } else {
      const { image, pushed } = await versionImage(this.ctx, this.docker, version);
      if (!pushed)
        throw configError(
          `${version}'s image was never pushed: the nodes of a swarm pull it by digest from image.registry`,
          `set image.registry, then \`mlops push --version ${version}\``,
        );
      await this.engine(`creating the service ${name}`, () =>
        this.docker.createService(pullAuth(this.ctx) ?? {}, this.spec(name, version, port, image)),
      );
    }
    return {
      id: name,
      version,
      port,
      url: this.serverUrl(version, port),
      running: true,
      since: new Date().toISOString(),
      replicas,
      slots,
    };
  }

  /** The spec of every task of a service whose first port is `port`: Swarm fills in the task's own names. */
  private taskSpec(port: number): ServerSpec {
    return serverSpecFor(this.ctx.config, {
      port,
      // The proxy reaches a task from the manager, at its node's address.
      host: '0.0.0.0',
      model_dir: IMAGE_MODEL_DIR,
      // Each task writes a log of its own, which outlives it on its node's volume.
      prediction_log: `${PREDICTIONS_DIR}/{{.Service.Name}}-{{.Task.Slot}}-{{.Task.ID}}.jsonl`,
    });
  }

  /** Swarm knows a version's service by its name; the proxy, its tasks by their nodes' addresses. */
  serverUrl = (version: string, port: number) => `swarm://${dockerName(this.ctx.config.project, version, port)}`;

  private spec(name: string, version: string, port: number, image: string): object {
    const { project } = this.ctx.config;
    const { replicas, swarm } = this.ctx.config.deploy;
    const volume = predictionVolume(this.ctx);
    const rolling = { Parallelism: 1, Monitor: swarm.monitor_seconds * SECOND, Order: 'stop-first' };
    return {
      Name: name,
      Labels: {
        ...projectLabels(project, 'server'),
        [LABEL.version]: version,
        [LABEL.port]: String(port),
        [LABEL.slots]: String(swarm.max_replicas),
        [LABEL.weight]: '1',
      },
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Env: [`${SERVER_SPEC_VARIABLE}=${JSON.stringify(this.taskSpec(port))}`, 'MLOPS_TASK_SLOT={{.Task.Slot}}'],
          Labels: projectLabels(project, 'swarm-task'),
          Mounts: [
            {
              Type: 'volume',
              Source: volume,
              Target: PREDICTIONS_DIR,
              VolumeOptions: { Labels: projectLabels(project, 'predictions') },
            },
          ],
          StopGracePeriod: this.stopSeconds * SECOND,
        },
        Networks: [{ Target: 'host' }],
        RestartPolicy: { Condition: 'on-failure', Delay: SECOND, MaxAttempts: swarm.max_restarts },
        Resources: {
          Limits: {
            ...(swarm.cpus && { NanoCPUs: Math.round(swarm.cpus * SECOND) }),
            ...(swarm.memory_mb && { MemoryBytes: swarm.memory_mb * 2 ** 20 }),
          },
        },
      },
      Mode: { Replicated: { Replicas: replicas } },
      // Swarm's own rolling update and rollback, for a change to the service's spec. Stop-first: a
      // task's replacement in the same slot takes the same port, which on the same node must be free.
      UpdateConfig: { ...rolling, FailureAction: 'rollback', MaxFailureRatio: 0 },
      RollbackConfig: { ...rolling, FailureAction: 'pause' },
    };
  }

  /** Changes a service's spec, at the version the engine has (a concurrent change fails rather than being undone). */
  private async update(name: string, change: (spec: Docker.ServiceSpec) => void): Promise<void> {
    await this.engine(`updating the service ${name}`, async () => {
      const info = (await this.docker.getService(name).inspect()) as { Spec: Docker.ServiceSpec; Version: { Index: number } };
      const spec = structuredClone(info.Spec);
      change(spec);
      await updateService(this.docker, name, info.Version.Index, spec, pullAuth(this.ctx));
    });
  }

  private tasks(server: SwarmServer, desired?: 'running'): Promise<SwarmTask[]> {
    const filters = { service: [server.id], ...(desired && { 'desired-state': [desired] }) };
    return this.engine(`listing the tasks of ${server.id}`, () => listTasks(this.docker, filters));
  }

  /** A task that failed (or was rejected: an image its node cannot pull) is an exit, with its error and last words. */
  async liveness(server: SwarmServer): Promise<Liveness> {
    const failed = (await this.tasks(server)).find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
    if (!failed) return { exited: false };
    const logs = await taskLogs(this.docker, failed.ID, { tail: 5 })
      .then((out) => demux(out))
      .catch(() => '');
    const err = failed.Status.Err ?? 'the task failed';
    return { exited: true, reason: logs.trim() ? `${err}: ${lastWords(logs)}` : err };
  }

  /** Every task asked for runs: Swarm counts a task running once the image's HEALTHCHECK passes. */
  async ready(server: SwarmServer): Promise<boolean> {
    const tasks = await this.tasks(server, 'running');
    return tasks.filter((t) => t.Status.State === 'running').length >= server.replicas;
  }

  /** The proxy's backends of a service: its tasks, `<service>.<slot>@<node>`. */
  private static async backends(proxy: ProxyClient, server: SwarmServer) {
    return (await proxy.backends()).filter((b) => b.id.startsWith(`${server.id}.`));
  }

  /** Waits until the proxy balances over every task: it found them through the manager and their health checks passed. */
  async admit(proxy: ProxyClient, server: SwarmServer): Promise<void> {
    await pollUntil(
      ROTATION_TIMEOUT_MS,
      async () => (await SwarmFleet.backends(proxy, server)).filter((b) => b.healthy && b.weight > 0).length >= server.replicas,
      () => {
        throw new MlopsError(
          'transient',
          `the proxy did not take the ${server.replicas} tasks of ${server.id} into rotation within ${ROTATION_TIMEOUT_MS / 1000}s`,
        );
      },
      200,
    );
  }

  /** Weight 0 on the service: the proxy drains its tasks (requests in flight finish) before Swarm stops them. */
  async evict(proxy: ProxyClient, server: SwarmServer): Promise<void> {
    await this.update(server.id, (spec) => void (spec.Labels = { ...spec.Labels, [LABEL.weight]: '0' }));
    await pollUntil(
      10_000,
      async () => (await SwarmFleet.backends(proxy, server)).every((b) => b.weight === 0),
      () => {},
      200,
    );
  }

  /** 0 replicas, the service kept for rollback; Swarm sends its tasks SIGTERM, and this waits until they have exited. */
  async stop(server: SwarmServer): Promise<void> {
    await this.update(server.id, (spec) => void (spec.Mode = { Replicated: { Replicas: 0 } }));
    await pollUntil(
      this.stopSeconds * 1000,
      async () => (await this.tasks(server)).every((t) => ENDED.has(t.Status.State)),
      () => {},
      250,
    );
  }

  async remove(server: SwarmServer): Promise<void> {
    await this.engine(`removing the service ${server.id}`, () =>
      this.docker
        .getService(server.id)
        .remove()
        .catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 404) throw err;
        }),
    );
  }

  /**
   * Scales a version's service and waits until the proxy balances over exactly that many tasks.
   * Tasks removed drain as any stopping server: the proxy drops them once Swarm marks them for
   * shutdown, and they answer through their grace period meanwhile.
   */
  async scale(proxy: ProxyClient, server: SwarmServer, replicas: number): Promise<void> {
    if (replicas > server.slots)
      throw configError(
        `${server.id} has ports for ${server.slots} tasks, not ${replicas}`,
        'raise deploy.swarm.max_replicas and deploy the version again',
      );
    await this.update(server.id, (spec) => void (spec.Mode = { Replicated: { Replicas: replicas } }));
    await pollUntil(
      ROTATION_TIMEOUT_MS,
      async () => {
        const tasks = await SwarmFleet.backends(proxy, server);
        return tasks.length === replicas && tasks.every((b) => b.healthy && b.weight > 0);
      },
      () => {
        throw new MlopsError(
          'transient',
          `the proxy did not balance over ${replicas} tasks of ${server.id} within ${ROTATION_TIMEOUT_MS / 1000}s`,
        );
      },
      200,
    );
  }
}
