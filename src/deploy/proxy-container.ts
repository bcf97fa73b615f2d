import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { MlopsError } from '../errors.js';
import { lastWords } from '../processes.js';
import { demux, execRequest } from './docker-exec.js';
import { ProxyClient } from './proxy-client.js';
import { pollUntil } from '../poll.js';
import { dockerName } from '../docker-name.js';
import { PROXY_SPEC_VARIABLE, proxySpecFor, type DiscoveryName } from '../serving-spec.js';
import { LABEL, projectLabels } from './labels.js';

/** The proxy container's name: one per project and Docker host. */
export const proxyContainerName = (ctx: StepContext) => dockerName(ctx.config.project, 'proxy');

/**
 * deploy.target docker's and swarm's proxy: a container of a prediction image running /app/proxy.js
 * on the host network, which finds the servers through the engine's socket (on a swarm manager,
 * the tasks of every node). It lives on
 * the Docker host, so a deploy from a workflow runner leaves it serving after the job ends. It is
 * created once and then kept (a new one would drop the connections of the old); its port or
 * address changing in the config replaces it.
 *
 * It runs as root: the engine's socket belongs to root (or a group id this side cannot know), and
 * whoever holds the socket holds the host anyway. The prediction servers run as the image's user.
 */
export async function ensureProxyContainer(
  ctx: StepContext,
  docker: Docker,
  image: string,
  discovery: DiscoveryName,
): Promise<ProxyClient> {
  const { port, host } = ctx.config.deploy.proxy;
  const name = proxyContainerName(ctx);
  const url = `http://127.0.0.1:${port}`;
  const client = new ProxyClient(url, '', execRequest(docker, name));
  const want = {
    ...projectLabels(ctx.config.project, 'proxy'),
    [LABEL.port]: String(port),
    [LABEL.host]: host,
    [LABEL.discovery]: discovery,
  };
  const existing = await docker
    .getContainer(name)
    .inspect()
    .catch(() => undefined);
  const stale = existing && Object.entries(want).some(([k, v]) => existing.Config.Labels?.[k] !== v);
  if (stale) await docker.getContainer(name).remove({ force: true });
  if (existing && !stale) {
    if (!existing.State.Running) await docker.getContainer(name).start();
  } else {
    const container = await docker.createContainer({
      name,
      Image: image,
      Entrypoint: ['node', '/app/proxy.js'],
      User: '0',
      Env: [
        `${PROXY_SPEC_VARIABLE}=${JSON.stringify(proxySpecFor(ctx.config, { discovery: { name: discovery, project: ctx.config.project } }))}`,
      ],
      Labels: want,
      HostConfig: {
        NetworkMode: 'host',
        Binds: ['/var/run/docker.sock:/var/run/docker.sock'],
        RestartPolicy: { Name: 'unless-stopped' },
      },
    });
    await container.start();
  }
  await waitForProxy(ctx, docker, name, client);
  ctx.log.info(`proxy container ${name} on ${host}:${port}, finding the servers by ${discovery} discovery`);
  return client;
}

/** Waits for the new proxy's /health; one that exits or answers nothing in 30 s fails the deploy with its last words. */
async function waitForProxy(ctx: StepContext, docker: Docker, name: string, client: ProxyClient): Promise<void> {
  const failed = async () => {
    const logs = demux((await docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 3 })) as unknown as Buffer);
    throw new MlopsError('transient', `the proxy container ${name} did not start: ${lastWords(logs)}`, {
      hint: `see \`docker logs ${name}\`; a port taken on the Docker host is the usual cause (deploy.proxy.port ${ctx.config.deploy.proxy.port})`,
    });
  };
  const up = async () => {
    const { State } = await docker.getContainer(name).inspect();
    if (State.Running && (await client.healthy())) return true;
    if (State.Restarting || !State.Running) await failed();
    return false;
  };
  await pollUntil(30_000, up, failed, 200);
}

/** Removes the project's proxy container, if there is one. */
export async function removeProxyContainer(ctx: StepContext, docker: Docker): Promise<void> {
  await docker
    .getContainer(proxyContainerName(ctx))
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}
