import type { DiscoveryName } from '../src/serving-spec.js';
import type { BackendPool } from './backends.js';
import { discoverContainers, type DiscoveryOptions } from './docker-discovery.js';
import { discoverTasks } from './swarm-discovery.js';

/** Keeps the pool in step with the servers an engine runs, until closed; the backends it adds have its name as their source. */
export type Discovery = (pool: BackendPool, options: DiscoveryOptions) => { close(): void };

/** Each way a proxy finds servers besides their registration, by the name a ProxySpec gives (a fleet's discovery). */
export const discoveries: Record<DiscoveryName, Discovery> = {
  docker: discoverContainers,
  swarm: discoverTasks,
};
