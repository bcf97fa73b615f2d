import type Docker from 'dockerode';
import type { RegistryAuth } from '../image/push.js';

/** A Swarm task as the engine's API lists it (@types/dockerode leaves it untyped). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

/** A Swarm node as the engine's API lists it. */
export interface SwarmNode {
  ID: string;
  Description?: { Hostname?: string };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
}

export const listNodes = (docker: Docker, abortSignal?: AbortSignal): Promise<SwarmNode[]> =>
  docker.listNodes(abortSignal ? ({ abortSignal } as object) : {}) as Promise<SwarmNode[]>;

/** A node's name for a person: its hostname, else its id. */
export const nodeName = (node: SwarmNode | undefined, id = ''): string => node?.Description?.Hostname ?? node?.ID ?? id;

/** The tasks the filters select (service, node, desired-state, ...). */
export const listTasks = (docker: Docker, filters: Record<string, string[]>, abortSignal?: AbortSignal): Promise<SwarmTask[]> =>
  docker.listTasks({ filters, ...(abortSignal && { abortSignal }) }) as Promise<SwarmTask[]>;

/** A task's output (stdout and stderr multiplexed), through the manager from whichever node ran it. */
export const taskLogs = (docker: Docker, id: string, options: { tail?: number } = {}): Promise<Buffer> =>
  (docker.getTask(id) as unknown as { logs(o: object): Promise<Buffer> }).logs({ stdout: true, stderr: true, ...options });

/** Replaces a service's spec at the version read (a change made meanwhile fails rather than being undone), with the registry's credentials for the pulls. */
export const updateService = (docker: Docker, id: string, version: number, spec: object, auth?: RegistryAuth): Promise<unknown> =>
  docker.getService(id).update({ _query: { version }, _body: spec, ...(auth && { authconfig: auth }) });

/** Where a node's tasks on the host network are reached: the manager may report 0.0.0.0 for itself, its manager address says it. */
export function nodeAddress(node: SwarmNode): string | undefined {
  const addr = node.Status?.Addr;
  if (addr && addr !== '0.0.0.0') return addr;
  return node.ManagerStatus?.Addr?.replace(/:\d+$/, '');
}
