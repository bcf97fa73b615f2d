import { MlopsError } from '../errors.js';
import { pollUntil } from '../poll.js';
import type { DiscoveryName } from '../serving-spec.js';
import type { Server } from '../step-outputs.js';
import type { TargetSupport } from '../target-support.js';
import type { HostRequest } from './host-request.js';
import type { ProxyClient } from './proxy-client.js';

/** Why a new server did not come up: it exited (with its last log line), or it is still starting. */
export type Liveness = { exited: false } | { exited: true; reason: string };

/** One server's prediction log, the server running, stopped or long removed. */
export interface PredictionLogSource {
  server: string;
  /** Its lines, oldest first, across rotated files. */
  lines(): AsyncIterable<string>;
}

/** How long the proxy has to take an admitted server into rotation. */
export const ROTATION_TIMEOUT_MS = 30_000;

/**
 * What a deploy target does: the whole of it, as the rollout (rollout.ts), the proxy and the config
 * see it; they are the same for every target. `S` is the target's own record of a server: what its
 * list() and start() return is what its other methods are handed back.
 */
export interface Fleet<S extends Server = Server> {
  /** Its name, deploy.target's value. */
  readonly target: string;
  /** What it supports, its entry in target-support.ts: staged releases, scaling, an image. */
  readonly supports: TargetSupport;
  /**
   * How its proxy finds the servers (serving/discoveries.ts); none where admit() registers them
   * with the proxy, as a process's are.
   */
  readonly discovery?: DiscoveryName;
  readonly request: HostRequest;
  /** The url the proxy knows a server of `version` on `port` by, before it starts: a staged release holds it. */
  serverUrl(version: string, port: number): string;
  /**
   * The project's proxy, started (from the version's image, for containers) unless it runs
   * already, and knowing the servers that run (a proxy started afresh, after a reboot say, learns them).
   */
  proxy(version: string): Promise<ProxyClient>;
  stopProxy(): Promise<void>;
  /**
   * The prediction log of every server the project has run, removed ones too: the logs outlive
   * the servers. Logs last written before `since` are left out.
   */
  predictionLogs(since?: string): Promise<PredictionLogSource[]>;
  /** Where the prediction logs are kept, for a person: undeploy leaves them there. */
  readonly predictionStore: string;
  /** The project's servers, running and stopped, newest first. */
  list(): Promise<S[]>;
  /** Starts a server for `version` on `port`, reusing a stopped one of the same version when it can. */
  start(version: string, port: number): Promise<S>;
  /**
   * Where a new server of `version` listens (its first port, for a service of several tasks), given
   * the project's servers: one of `version` kept stopped gets its own port back when it is free.
   */
  port(version: string, servers: S[]): Promise<number>;
  liveness(server: S): Promise<Liveness>;
  /** Whether it answers /ready and passes Docker's HEALTHCHECK, where there is one: every task of it, for a service. */
  ready(server: S): Promise<boolean>;
  /** Changes how many tasks serve, for fleets whose servers have several (swarm); waits until the proxy balances over them. */
  scale?(proxy: ProxyClient, server: S, replicas: number): Promise<void>;
  /**
   * Puts a ready server into rotation, and waits (ROTATION_TIMEOUT_MS at most) until the proxy
   * balances over it: it knows the server and the server's health check passed.
   */
  admit(proxy: ProxyClient, server: S): Promise<void>;
  /** Takes a running server out of rotation before it stops: no new requests reach it. */
  evict(proxy: ProxyClient, server: S): Promise<void>;
  /** SIGTERM, then wait for the server to finish its requests in flight and exit. */
  stop(server: S): Promise<void>;
  /** Forgets a stopped server for good (a container is removed). */
  remove(server: S): Promise<void>;
}

/**
 * Waits until a new server is healthy and ready. A server that exits cannot serve this model: a
 * quality error with its last words. One still starting at the deadline may yet come up: transient.
 */
export async function waitUntilReady<S extends Server>(fleet: Fleet<S>, server: S, timeoutMs: number): Promise<void> {
  const ready = async () => {
    const live = await fleet.liveness(server);
    if (live.exited)
      throw new MlopsError('quality', `the new server for ${server.version} exited before it was ready: ${live.reason}`, {
        hint: 'the old servers keep serving; fix the model or roll back with `mlops rollback`',
      });
    return fleet.ready(server);
  };
  await pollUntil(timeoutMs, ready, () => {
    throw new MlopsError('transient', `the new server for ${server.version} was not healthy and ready within ${timeoutMs / 1000}s`, {
      hint: 'the old servers keep serving; raise deploy.ready_timeout_seconds if the model is slow to load',
    });
  });
}
