import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { refusal, withDeploy } from '../helpers/config.js';
import type { SwarmNode, SwarmTask } from '../../src/deploy/swarm-api.js';
import { backendFromTask } from '../../serving/swarm-discovery.js';

describe('deploy.target swarm config', () => {
  it('runs 2 replicas of each version by default, with ports for 8', () => {
    const { deploy } = parseConfig(withDeploy({ target: 'swarm' }), {});
    expect(deploy).toMatchObject({ target: 'swarm', replicas: 2, swarm: { max_replicas: 8, monitor_seconds: 10, max_restarts: 0 } });
  });

  it('refuses more replicas than a version has ports for', () => {
    expect(refusal({ target: 'swarm', replicas: 9 })).toContain('deploy.replicas: 9 is over deploy.swarm.max_replicas (8): raise that too');
  });

  it('refuses a shadow or canary stage: it holds one server, and a swarm version has several', () => {
    expect(refusal({ target: 'swarm', release: 'canary', canary: { duration: 60 } })).toContain('deploy.target swarm releases directly');
  });
});

describe('a swarm task as the proxy finds it', () => {
  const service = {
    ID: 's1',
    Spec: { Name: 'demo-v2-9100', Labels: { 'mlops.port': '9100', 'mlops.slots': '8', 'mlops.model.version': 'v2', 'mlops.weight': '1' } },
  } as unknown as Docker.Service;
  const task = (slot: number): SwarmTask => ({
    ID: 't',
    ServiceID: 's1',
    NodeID: 'n2',
    Slot: slot,
    DesiredState: 'running',
    Status: { State: 'running' },
  });
  const worker: SwarmNode = { ID: 'n2', Description: { Hostname: 'h2' }, Status: { State: 'ready', Addr: '10.77.0.12' } };

  it("is its node's address, on the service's first port plus its slot less one", () => {
    expect(backendFromTask(service, task(3), worker)).toEqual({
      url: 'http://10.77.0.12:9102',
      version: 'v2',
      weight: 1,
      source: 'swarm',
    });
  });

  it('is found on a manager that reports 0.0.0.0 by its manager address', () => {
    const manager: SwarmNode = { ...worker, Status: { State: 'ready', Addr: '0.0.0.0' }, ManagerStatus: { Addr: '10.77.0.11:2377' } };
    expect(backendFromTask(service, task(1), manager)).toMatchObject({ url: 'http://10.77.0.11:9100' });
  });

  it('is no backend when its slot has no port of the service', () => {
    expect(backendFromTask(service, task(9), worker)).toBe("task slot 9 is outside the service's 8 ports (label mlops.slots)");
  });
});
