import type Docker from 'dockerode';
import { listNodes, listTasks, nodeAddress, nodeName, type SwarmNode, type SwarmTask } from '../src/deploy/swarm-api.js';
import type { BackendPool, BackendSpec } from './backends.js';
import { LABEL, projectFilter } from '../src/deploy/labels.js';
import { backendFromLabels, type DiscoveryOptions } from './docker-discovery.js';
import { engineOutage } from './engine-outage.js';

/** The manager's API has no task events: its tasks are listed this often. */
const POLL_MS = 500;

/**
 * The backend a running task describes: its service's labels (version, weight, first port) on its
 * node's address, at the port of its slot. Or why it describes none.
 */
export function backendFromTask(service: Docker.Service, task: SwarmTask, node: SwarmNode): BackendSpec | string {
  const labels = (service.Spec?.Labels ?? {}) as Record<string, string>;
  const [first, slots, slot] = [Number(labels[LABEL.port]), Number(labels[LABEL.slots]), task.Slot ?? 0];
  if (!(slot >= 1 && slot <= slots)) return `task slot ${slot} is outside the service's ${slots} ports (label ${LABEL.slots})`;
  const address = nodeAddress(node);
  if (!address) return `node ${nodeName(node)} reports no address`;
  return backendFromLabels({ ...labels, [LABEL.port]: String(first + slot - 1) }, 'swarm', address);
}

/**
 * Keeps the pool in step with the running tasks of the project's prediction services on a swarm,
 * through a manager's API: a task on a node that is not ready, or that Swarm is shutting down
 * (scaled away, or the service stopped), leaves at the next list. Backends are
 * `<service>.<slot>@<node>`. The pool's health checks take out a node gone silent before the
 * manager notices (it takes it some seconds), and the proxy retries what was in flight there.
 */
export function discoverTasks(pool: BackendPool, { docker, project, logger }: DiscoveryOptions): { close(): void } {
  const abort = new AbortController();
  const { signal } = abort;
  const engine = engineOutage(docker, logger, signal, 'Swarm discovery');
  /** Backends this discovery put in the pool. */
  const found = new Set<string>();
  /** Tasks that describe no backend: warned about once. */
  const ignored = new Set<string>();

  const sync = async () => {
    let services: Docker.Service[], tasks: SwarmTask[], nodes: SwarmNode[];
    try {
      const label = projectFilter(project, 'server');
      [services, tasks, nodes] = await Promise.all([
        docker.listServices({ filters: { label }, abortSignal: signal } as Docker.ServiceListOptions),
        listTasks(docker, { 'desired-state': ['running'] }, signal),
        listNodes(docker, signal),
      ]);
    } catch (err) {
      return engine.failed(err, 'listing the swarm’s tasks');
    }
    engine.answered();
    const live = new Map<string, BackendSpec>();
    for (const task of tasks) {
      const service = services.find((s) => s.ID === task.ServiceID);
      const node = nodes.find((n) => n.ID === task.NodeID);
      if (!service || !node || task.Status.State !== 'running' || node.Status.State !== 'ready') continue;
      const id = `${service.Spec!.Name}.${task.Slot}@${nodeName(node)}`;
      const spec = backendFromTask(service, task, node);
      if (typeof spec === 'string' || pool.get(id)?.source === 'registered') {
        if (!ignored.has(task.ID))
          logger.warn(`ignoring task ${id}: ${typeof spec === 'string' ? spec : `a registered backend is called ${id} too`}`);
        ignored.add(task.ID);
      } else live.set(id, spec);
    }
    for (const id of found)
      if (!live.has(id)) {
        found.delete(id);
        pool.remove(id);
      }
    for (const [id, spec] of live) {
      found.add(id);
      void pool.set(id, spec);
    }
  };

  // One list at a time: a slow engine delays the next, it does not pile them up.
  const loop = async () => {
    while (!signal.aborted) {
      await sync();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  void loop();
  return { close: () => abort.abort() };
}
