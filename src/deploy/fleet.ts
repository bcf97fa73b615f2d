import { MlopsError } from '../errors.js';
import type { ProxyClient } from './proxy-client.js';
import { pollUntil } from '../poll.js';
import type { Server } from '../step-outputs.js';

/** Why a new server did not come up: it exited (with its last log line), or it is still starting. */
export type Liveness = { exited: false } | { exited: true; reason: string };

/** An HTTP answer from the serving host. */
export interface HostResponse {
  status: number;
  body: string;
}

/**
 * An HTTP request to a URL on the serving host. Servers and proxy listen on its 127.0.0.1, which is
 * this machine for processes but not for a remote DOCKER_HOST: there the request goes through the engine.
 */
export type HostRequest = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<HostResponse>;

/** One server's prediction log, the server running, stopped or long removed. */
export interface PredictionLogSource {
  server: string;
  /** Its lines, oldest first, across rotated files. */
  lines(): AsyncIterable<string>;
}

/** What a deploy target does; the rollout (rollout.ts) is the same for every target. */
export interface Fleet {
  readonly target: 'local' | 'docker';
  readonly request: HostRequest;
  /** The project's proxy, started (from the version's image, for containers) unless it runs already. */
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
  list(): Promise<Server[]>;
  /** Starts a server for `version` on `port`, reusing a stopped one of the same version when it can. */
  start(version: string, port: number): Promise<Server>;
  liveness(server: Server): Promise<Liveness>;
  /** Docker's HEALTHCHECK, where there is one; a process has none beyond /ready. */
  healthy(server: Server): Promise<boolean>;
  /** SIGTERM, then wait for the server to finish its requests in flight and exit. */
  stop(server: Server): Promise<void>;
  /** Forgets a stopped server for good (a container is removed). */
  remove(server: Server): Promise<void>;
}

/** Whether a URL on the serving host answers 200; not answering at all is a no. */
export function answersOk(request: HostRequest, url: string): Promise<boolean> {
  return request(url).then(
    (res) => res.status === 200,
    () => false,
  );
}

/**
 * Waits until a new server is healthy and ready. A server that exits cannot serve this model: a
 * quality error with its last words. One still starting at the deadline may yet come up: transient.
 */
export async function waitUntilReady(fleet: Fleet, server: Server, timeoutMs: number): Promise<void> {
  const ready = async () => {
    const live = await fleet.liveness(server);
    if (live.exited)
      throw new MlopsError('quality', `the new server for ${server.version} exited before it was ready: ${live.reason}`, {
        hint: 'the old servers keep serving; fix the model or roll back with `mlops rollback`',
      });
    return (await answersOk(fleet.request, `${server.url}/ready`)) && fleet.healthy(server);
  };
  await pollUntil(timeoutMs, ready, () => {
    throw new MlopsError('transient', `the new server for ${server.version} was not healthy and ready within ${timeoutMs / 1000}s`, {
      hint: 'the old servers keep serving; raise deploy.ready_timeout_seconds if the model is slow to load',
    });
  });
}
