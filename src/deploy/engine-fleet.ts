import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { engineError } from '../image/docker.js';
import type { Server } from '../step-outputs.js';
import { execRequest } from './docker-exec.js';
import type { HostRequest } from './host-request.js';
import type { ProxyClient } from './proxy-client.js';
import type { DiscoveryName } from '../serving-spec.js';
import { ensureProxyContainer, proxyContainerName, removeProxyContainer } from './proxy-container.js';
import { versionImage } from './version-image.js';

/**
 * What the fleets on a Docker engine at DOCKER_HOST share (docker, swarm): the proxy as a container
 * there, reached through the engine, and the engine's failures named for what was being done.
 */
export abstract class EngineFleet<S extends Server> {
  readonly request: HostRequest;
  /** How the proxy finds this fleet's servers. */
  abstract readonly discovery: DiscoveryName;

  constructor(
    protected readonly ctx: StepContext,
    protected readonly docker: Docker,
  ) {
    this.request = execRequest(docker, proxyContainerName(ctx));
  }

  /** How long the engine waits for a stopping server before it kills it, in whole seconds: its grace period, and 30 s for what is in flight. */
  protected get stopSeconds(): number {
    return Math.ceil(this.ctx.config.serving.shutdown_grace_seconds) + 30;
  }

  protected engine<T>(doing: string, work: () => Promise<T>): Promise<T> {
    return work().catch((err: unknown) => {
      throw engineError(this.docker, err, doing);
    });
  }

  async proxy(version: string): Promise<ProxyClient> {
    const { image } = await versionImage(this.ctx, this.docker, version);
    return this.engine('starting the proxy', () => ensureProxyContainer(this.ctx, this.docker, image, this.discovery));
  }

  stopProxy(): Promise<void> {
    return this.engine('removing the proxy', () => removeProxyContainer(this.ctx, this.docker));
  }

  abstract list(): Promise<S[]>;
}
