import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Logger } from '../src/log.js';
import { LABEL, projectFilter } from '../src/deploy/labels.js';
import type { DiscoveryName } from '../src/serving-spec.js';
import type { BackendPool, BackendSpec } from './backends.js';
import { engineOutage } from './engine-outage.js';

const RESYNC_MS = 5000;
const RECONNECT_MS = 1000;
/** Signals that stop a server (by number, as the engine reports them); others, e.g. SIGHUP, leave it in rotation. */
const STOPPING_SIGNALS = new Set(['2', '9', '15']);

/**
 * The backend a server's labels describe, on `host` (its node's address), found by `source` (a
 * discovery), or why they describe none.
 */
export function backendFromLabels(labels: Record<string, string>, source: DiscoveryName, host = '127.0.0.1'): BackendSpec | string {
  const port = labels[LABEL.port] ?? '';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    return `label ${LABEL.port} is ${JSON.stringify(port)}, expected the port the server listens on`;
  const weight = labels[LABEL.weight] ?? '1';
  if (!/^\d+$/.test(weight)) return `label ${LABEL.weight} is ${JSON.stringify(weight)}, expected a whole number >= 0`;
  // Containers run with NetworkMode host: the server's port is its host's.
  return { url: `http://${host}:${port}`, version: labels[LABEL.version] ?? 'unknown', weight: Number(weight), source };
}

export interface DiscoveryOptions {
  docker: Docker;
  project: string;
  logger: Logger;
}

interface ContainerEvent {
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Calls `onLine` for each line of a stream; settles when the stream ends or fails. */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  return new Promise((ended, failed) => {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (line.trim()) onLine(line);
    });
    stream.on('error', failed);
    stream.on('end', ended);
    stream.on('close', ended);
  });
}

/**
 * Keeps the pool in step with the running containers labelled mlops.project=<project> and
 * mlops.role=server. Container events bring a change in within a second; a full resync every few
 * seconds covers events missed while the stream was down. An engine that does not answer is logged
 * once per outage, and the backends already known keep serving.
 */
export function discoverContainers(pool: BackendPool, { docker, project, logger }: DiscoveryOptions): { close(): void } {
  const label = projectFilter(project, 'server');
  const abort = new AbortController();
  /** Container id → backend id, for the containers this discovery put in the pool. */
  const found = new Map<string, string>();
  /** Containers told to stop: out of rotation while they finish their grace period. */
  const stopping = new Set<string>();
  /** Containers whose labels describe no backend: warned about once. */
  const ignored = new Set<string>();
  const engine = engineOutage(docker, logger, abort.signal, 'Docker discovery');

  const drop = (containerId: string) => {
    const id = found.get(containerId);
    found.delete(containerId);
    if (id && pool.get(id)?.source === 'docker') pool.remove(id);
  };

  const ignore = (containerId: string, id: string, why: string) => {
    if (!ignored.has(containerId)) logger.warn(`ignoring container ${id}: ${why}`);
    ignored.add(containerId);
  };

  const add = (container: Docker.ContainerInfo) => {
    const id = container.Names[0]?.replace(/^\//, '') ?? container.Id.slice(0, 12);
    const spec = backendFromLabels(container.Labels, 'docker');
    if (typeof spec === 'string') return ignore(container.Id, id, spec);
    if (pool.get(id)?.source === 'registered') return ignore(container.Id, id, `a registered backend is called ${id} too`);
    found.set(container.Id, id);
    void pool.set(id, spec);
  };

  const syncOnce = async () => {
    let containers: Docker.ContainerInfo[];
    try {
      containers = await docker.listContainers({ filters: { label, status: ['running'] }, abortSignal: abort.signal });
    } catch (err) {
      return engine.failed(err, 'listing prediction server containers');
    }
    engine.answered();
    const running = new Set(containers.map((c) => c.Id));
    for (const set of [stopping, ignored]) for (const id of set) if (!running.has(id)) set.delete(id);
    for (const id of found.keys()) if (!running.has(id) || stopping.has(id)) drop(id);
    for (const c of containers) if (!stopping.has(c.Id)) add(c);
  };

  // One list at a time, and one more after it when asked meanwhile: an older list finishing last
  // would otherwise undo a newer one.
  let syncing: Promise<void> | undefined;
  let again = false;
  const sync = (): Promise<void> => {
    if (syncing) {
      again = true;
      return syncing;
    }
    syncing = (async () => {
      do {
        again = false;
        await syncOnce();
      } while (again && !abort.signal.aborted);
    })().finally(() => (syncing = undefined));
    return syncing;
  };

  const onEvent = (line: string) => {
    let event: ContainerEvent;
    try {
      event = JSON.parse(line) as ContainerEvent;
    } catch {
      return; // not an event: nothing to act on
    }
    const { Action: action = '', Actor: actor } = event;
    if (!actor?.ID) return;
    // A stop signal takes the container out at once: that is how a draining server stops getting new requests.
    if (action === 'die' || action === 'stop' || (action === 'kill' && STOPPING_SIGNALS.has(actor.Attributes?.signal ?? ''))) {
      stopping.add(actor.ID);
      drop(actor.ID);
    } else if (action === 'start') {
      stopping.delete(actor.ID);
      void sync();
    } else if (action.startsWith('health_status')) {
      const id = found.get(actor.ID);
      if (id) void pool.probe(id);
    }
  };

  const follow = async () => {
    while (!abort.signal.aborted) {
      try {
        const stream = await docker.getEvents({ filters: { type: ['container'], label }, abortSignal: abort.signal });
        engine.answered();
        // Listed after subscribing, so nothing falls between the list and the first event.
        void sync();
        await eachLine(stream, onEvent);
      } catch (err) {
        engine.failed(err, 'following container events');
      }
      await sleep(RECONNECT_MS, undefined, { signal: abort.signal }).catch(() => {});
    }
  };

  void follow();
  const resync = setInterval(() => void sync(), RESYNC_MS);
  return {
    close() {
      abort.abort();
      clearInterval(resync);
    },
  };
}
