import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { freePort } from './ports.js';

/**
 * Real services for integration tests, named by environment variables that .ci/run sets to the
 * services it finds (on GitHub, ci.yml's containers and the runner's engine) or starts. Where a
 * service is absent the tests skip with the reason, except in CI (`CI` set), where a missing
 * service fails them: CI must prove they pass.
 */
export function postgresUrl(): string | undefined {
  const url = process.env.MLOPS_TEST_PG_URL;
  if (!url && process.env.CI) {
    throw new Error('MLOPS_TEST_PG_URL is not set in CI: .ci/run finds or starts PostgreSQL and sets it');
  }
  if (!url) console.warn('skipping PostgreSQL tests: set MLOPS_TEST_PG_URL (see .ci/run) to run them');
  return url;
}

/** True when a Docker engine answers at DOCKER_HOST (or the default socket). */
export async function dockerEngine(): Promise<boolean> {
  try {
    await new Docker().ping();
    return true;
  } catch (err) {
    const where = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
    if (process.env.CI) throw new Error(`no Docker engine answers at ${where} in CI: .ci/run finds one or starts dockerd`, { cause: err });
    console.warn(`skipping Docker tests: no engine answers at ${where}`);
    return false;
  }
}

/** An image registry with htpasswd authentication, as .ci/run finds or starts it; undefined (skip) outside CI when unset. */
export function imageRegistry(): { address: string; username: string; password: string } | undefined {
  const { MLOPS_TEST_REGISTRY: address, MLOPS_TEST_REGISTRY_USERNAME: username, MLOPS_TEST_REGISTRY_PASSWORD: password } = process.env;
  if (address && username && password) return { address, username, password };
  if (process.env.CI)
    throw new Error('MLOPS_TEST_REGISTRY (with _USERNAME and _PASSWORD) is not set in CI: .ci/run finds or starts a registry');
  console.warn('skipping registry tests: set MLOPS_TEST_REGISTRY, _USERNAME and _PASSWORD (see .ci/run) to run them');
  return undefined;
}

export interface SshDockerHost {
  /** `ssh://user@127.0.0.1:port`, for DOCKER_HOST. */
  dockerHost: string;
  /** A private key the server accepts, and the server's keys as known_hosts lines. */
  privateKey: string;
  /** A well-formed key the server does not accept. */
  strangerKey: string;
  knownHosts: string;
  close(): void;
}

/**
 * A real OpenSSH server on loopback with a fresh host key and one authorized client key, for this
 * user: the Docker engine reached as a remote DOCKER_HOST is (`docker system dial-stdio` over ssh).
 */
export async function sshDockerHost(): Promise<SshDockerHost | undefined> {
  const sshd = '/usr/sbin/sshd';
  if (!existsSync(sshd)) {
    if (process.env.CI) throw new Error(`${sshd} is missing in CI: .ci/run installs openssh-server where it is missing`);
    console.warn('skipping ssh DOCKER_HOST tests: install openssh-server');
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'mlops-sshd-'));
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)]);
  keygen('host');
  keygen('client');
  keygen('stranger');
  await copyFile(join(dir, 'client.pub'), join(dir, 'authorized_keys'));
  const port = await freePort();
  await mkdir('/run/sshd', { recursive: true }).catch(() => {}); // privilege separation, when run as root
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'PermitRootLogin prohibit-password',
    'LogLevel ERROR',
  ];
  await writeFile(join(dir, 'sshd_config'), config.join('\n') + '\n');
  const server = spawn(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  for (const deadline = Date.now() + 10_000; !(await listening(port)); await new Promise((r) => setTimeout(r, 100)))
    if (server.exitCode !== null || Date.now() > deadline) {
      server.kill();
      throw new Error(`sshd did not start: ${stderr}`);
    }
  const hostKey = (await readFile(join(dir, 'host.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  return {
    dockerHost: `ssh://${userInfo().username}@127.0.0.1:${port}`,
    privateKey: await readFile(join(dir, 'client'), 'utf8'),
    strangerKey: await readFile(join(dir, 'stranger'), 'utf8'),
    knownHosts: `[127.0.0.1]:${port} ${hostKey}\n`,
    close: () => {
      server.kill();
      void rm(dir, { recursive: true, force: true });
    },
  };
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1')
      .once('connect', () => {
        socket.destroy();
        resolve(true);
      })
      .once('error', () => resolve(false));
  });
