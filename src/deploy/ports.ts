import { createServer } from 'node:net';
import type { StepContext } from '../context.js';
import { configError } from '../errors.js';
import type { Server } from '../step-outputs.js';

/** True when nothing listens on 127.0.0.1:port (we could bind it ourselves). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
      .once('error', () => resolve(false))
      .listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** The first free port of `deploy.ports`, skipping the ones our own servers hold. */
export async function freePort([first, last]: readonly [number, number], held: Set<number>): Promise<number> {
  for (let port = first; port <= last; port++) if (!held.has(port) && (await portFree(port))) return port;
  throw configError(
    `every port of deploy.ports [${first}, ${last}] is taken`,
    'widen deploy.ports, or stop what holds them (`mlops undeploy` stops this project’s servers)',
  );
}

/** A port of this machine (or the Docker host's network) for a new server of `version`: a kept server's own when it is free. */
export async function hostPort(ctx: StepContext, version: string, servers: Server[]): Promise<number> {
  const kept = servers.find((s) => !s.running && s.version === version);
  return kept && (await portFree(kept.port)) ? kept.port : freePort(ctx.config.deploy.ports, new Set(servers.map((s) => s.port)));
}
