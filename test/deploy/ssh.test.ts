import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import { predictionLogs } from '../../src/deploy/prediction-logs.js';
import { undeploy } from '../../src/deploy/rollout.js';
import { buildHostBase } from '../../src/image/base.js';
import { openDocker } from '../../src/image/docker.js';
import { runPipeline } from '../../src/pipeline.js';
import { predict } from '../helpers/load.js';
import { contextFor, deployTo, isolatedConfig, trained } from '../helpers/model.js';
import { dockerEngine, sshDockerHost, type SshDockerHost } from '../helpers/services.js';
import type { PipelineResult } from '../../src/step-outputs.js';

const engine = await dockerEngine();
const ssh = engine ? await sshDockerHost() : undefined;
const BASE = 'mlops-test-base:host';
const PROJECT = 'ssh-deploy-test';
let root: string;
let config: Config;
let ctx: StepContext;
let first: PipelineResult;
let proxy: string;

/** DOCKER_HOST and its ssh material as a workflow sets them from secrets; `change` overrides some. */
function remoteEnv(host: SshDockerHost, change: Record<string, string> = {}): void {
  Object.assign(process.env, {
    DOCKER_HOST: host.dockerHost,
    MLOPS_DOCKER_SSH_KEY: host.privateKey,
    MLOPS_DOCKER_SSH_KNOWN_HOSTS: host.knownHosts,
    ...change,
  });
}

describe.skipIf(!ssh)('deploy.target docker on a remote DOCKER_HOST over ssh (real sshd and engine)', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-deploy-ssh-'));
    config = await isolatedConfig(root);
    config.project = PROJECT;
    config.image.base = BASE;
    proxy = await deployTo(config, 'docker');
    await buildHostBase(new Docker(), BASE, () => {});
    ctx = await contextFor(config, 'one');
    remoteEnv(ssh!);
    first = trained(await runPipeline(ctx));
  }, 240_000);
  afterAll(async () => {
    remoteEnv(ssh!);
    if (ctx) await undeploy(ctx).catch(() => {});
    for (const name of ['DOCKER_HOST', 'MLOPS_DOCKER_SSH_KEY', 'MLOPS_DOCKER_SSH_KNOWN_HOSTS']) delete process.env[name];
    await new Docker()
      .getImage(`${PROJECT}-server:v1`)
      .remove({ force: true })
      .catch(() => {});
    await new Docker()
      .getVolume(`${PROJECT}-predictions`)
      .remove()
      .catch(() => {});
    ssh?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('builds and deploys through ssh alone: the proxy container on the host serves the new version', async () => {
    expect(first.deploy).toMatchObject({ target: 'docker', version: 'v1', proxy });
    const res = await predict(proxy);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mlops-backend')).toContain(first.deploy!.server.id);
  });

  it('reads the prediction log back through ssh', async () => {
    remoteEnv(ssh!);
    const [log] = await predictionLogs(ctx);
    let lines = 0;
    for await (const _ of log!.lines()) lines++;
    expect(lines).toBeGreaterThan(0);
  });

  it('refuses a host whose key is not known, before connecting, and says how to learn it', () => {
    remoteEnv(ssh!, { MLOPS_DOCKER_SSH_KNOWN_HOSTS: '' });
    const port = new URL(ssh!.dockerHost).port;
    expect(() => openDocker(process.env)).toThrow(
      expect.objectContaining({ errorClass: 'config', hint: expect.stringContaining(`ssh-keyscan -p ${port} 127.0.0.1`) }),
    );
  });

  it('refuses a host whose key changed: a config error, not a retry', async () => {
    const [name, , key] = ssh!.knownHosts.split(' ');
    const other = `${name} ssh-ed25519 ${Buffer.from(key!, 'base64').reverse().toString('base64')}\n`;
    remoteEnv(ssh!, { MLOPS_DOCKER_SSH_KNOWN_HOSTS: other });
    const err = await undeploy(ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ errorClass: 'config', message: expect.stringContaining('does not match the known one') });
  });

  it('says the key was refused, and never shows it', async () => {
    remoteEnv(ssh!, { MLOPS_DOCKER_SSH_KEY: ssh!.strangerKey });
    const err = (await undeploy(ctx).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ errorClass: 'config', message: expect.stringContaining('refused the ssh key') });
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain(ssh!.strangerKey.split('\n')[1]);
  });
});
