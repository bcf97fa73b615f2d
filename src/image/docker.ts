import Docker from 'dockerode';
import { configError, MlopsError } from '../errors.js';
import { sshError, sshOptions } from './docker-ssh.js';

const defaultHost = 'unix:///var/run/docker.sock';
/** Where each engine that openDocker opened is, for the errors that say where they looked. */
const hosts = new WeakMap<Docker, string>();

/**
 * The Docker engine, as `DOCKER_HOST` in `env` names it: a unix socket by default, tcp (with TLS
 * from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or ssh (docker-ssh.ts). dockerode reads these itself
 * from this process's environment, which is the one the adapters hand in.
 */
export function openDocker(env: NodeJS.ProcessEnv): Docker {
  const host = env.DOCKER_HOST;
  const docker = new Docker(host?.startsWith('ssh://') ? { sshOptions: sshOptions(host, env) } : undefined);
  hosts.set(docker, host || defaultHost);
  return docker;
}

/** Fails fast, and transiently, when no engine answers: before any work is streamed to it. */
export async function pingEngine(docker: Docker, doing: string): Promise<void> {
  await docker.ping().catch((err: unknown) => {
    throw engineError(docker, err, doing);
  });
}

const where = (docker: Docker) => hosts.get(docker) ?? defaultHost;

/** An engine error as a step error: an unreachable daemon is transient (retried), and says where it looked. */
export function engineError(docker: Docker, err: unknown, doing: string): MlopsError {
  if (err instanceof MlopsError) return err;
  const ssh = sshError(err as Error);
  if (ssh) return ssh;
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
  const message = e.json?.message ?? e.message ?? String(err);
  if (['ECONNREFUSED', 'ENOENT', 'EACCES', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE'].includes(e.code ?? '') || (e.statusCode ?? 0) >= 500)
    return new MlopsError('transient', `the Docker engine at ${where(docker)} did not answer while ${doing}: ${message}`, {
      hint: 'start dockerd, or point DOCKER_HOST at a running engine',
      cause: err,
    });
  return configError(`Docker refused ${doing}: ${message}`);
}

/** One event of a build, push or import progress stream. */
export interface StreamEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string; Tag?: string; Size?: number };
}

/**
 * Follows a progress stream to its end. The engine reports build and push failures *inside* the
 * stream with HTTP 200, so an event carrying `error` rejects, with the message the engine gave.
 */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onEvent: (e: StreamEvent) => void): Promise<StreamEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: StreamEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error || e.errorDetail);
        if (failed) return reject(new StreamError(failed.errorDetail?.message ?? failed.error ?? 'unknown error', events));
        resolve(events);
      },
      (e: StreamEvent) => {
        if (!e.error && !e.errorDetail) onEvent(e);
      },
    );
  });
}

/** A failure reported inside a progress stream, with the events before it (e.g. the build step that failed). */
export class StreamError extends Error {
  constructor(
    message: string,
    readonly events: StreamEvent[],
  ) {
    super(message);
  }
}
