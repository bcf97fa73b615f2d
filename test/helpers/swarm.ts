import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** One Docker Swarm test host: a network namespace with its own dockerd (scripts/swarm-hosts.sh). */
export interface SwarmNode {
  /** The node's hostname, as `docker node ls` shows it: `mlops-h1`. */
  name: string;
  /** Its address on the test bridge, reachable from this machine: `10.77.0.11`. */
  address: string;
  /** Its engine, for DOCKER_HOST or dockerode: `unix:///run/mlops-swarm/h1/run/docker.sock`. */
  socket: string;
  /** The veth on this machine's side of the bridge: cutting it takes the host off the network. */
  link: string;
  role: 'manager' | 'worker';
}

export interface SwarmHosts {
  /** The manager's engine socket. */
  manager: string;
  /** The image registry as the nodes reach it (`10.77.0.1:5000`, the one at MLOPS_TEST_REGISTRY). */
  registry: string;
  nodes: SwarmNode[];
}

/**
 * Real multi-host Docker Swarm test hosts, as `npm run swarm:up` starts them and describes them in
 * the JSON file named by MLOPS_TEST_SWARM; undefined (skip) outside CI when unset, an error in CI.
 */
export function swarmHosts(): SwarmHosts | undefined {
  const file = process.env.MLOPS_TEST_SWARM;
  if (!file && process.env.CI) {
    throw new Error('MLOPS_TEST_SWARM is not set in CI: .ci/run must set up the swarm test hosts (`npm run swarm:up`) and export it');
  }
  if (!file) {
    console.warn(
      'skipping Docker Swarm tests: run `sudo npm run swarm:up` and set MLOPS_TEST_SWARM=/run/mlops-swarm/hosts.json to run them',
    );
    return undefined;
  }
  return JSON.parse(readFileSync(file, 'utf8')) as SwarmHosts;
}

/** Takes the node off the network (its veth down), as a host that dies mid-load would be; needs root. */
export function cutNode(node: SwarmNode): void {
  execFileSync('ip', ['link', 'set', node.link, 'down']);
}

/** Puts a cut node back on the network (its veth up); the swarm sees it Ready again within seconds. */
export function restoreNode(node: SwarmNode): void {
  execFileSync('ip', ['link', 'set', node.link, 'up']);
}
