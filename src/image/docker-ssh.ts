import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { configError, type MlopsError } from '../errors.js';
import { registerSecret } from '../secrets.js';

/** How `ssh-keyscan` and known_hosts name a host: `[host]:port` unless the port is 22. */
const hostPattern = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

/** Whether one known_hosts name field matches: a list of names, or a hashed name (`|1|salt|hash`). */
function namesMatch(field: string, name: string): boolean {
  return field.split(',').some((entry) => {
    const hashed = /^\|1\|([^|]+)\|(.+)$/.exec(entry);
    if (!hashed) return entry === name;
    return createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest('base64') === hashed[2];
  });
}

/** The public keys known_hosts text holds for a host, as the raw blobs ssh compares. */
export function knownKeys(knownHosts: string, host: string, port: number): Buffer[] {
  const name = hostPattern(host, port);
  return knownHosts
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([names, , key]) => names && key && !names.startsWith('#') && !names.startsWith('@') && namesMatch(names, name))
    .map(([, , key]) => Buffer.from(key!, 'base64'));
}

const ENV_KEY = 'MLOPS_DOCKER_SSH_KEY';
const ENV_KNOWN_HOSTS = 'MLOPS_DOCKER_SSH_KNOWN_HOSTS';

/**
 * ssh options for an `ssh://user@host[:port]` DOCKER_HOST, from the environment a workflow can set
 * from one secret and one variable: the private key (MLOPS_DOCKER_SSH_KEY, else the ssh agent) and
 * the host's public keys (MLOPS_DOCKER_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts). The host key is
 * always checked: a Docker host that cannot be verified is refused before anything is sent to it,
 * registry credentials included.
 */
export function sshOptions(dockerHost: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const url = new URL(dockerHost);
  const host = url.hostname;
  const port = Number(url.port || 22);
  const knownHosts = env[ENV_KNOWN_HOSTS] || readKnownHosts();
  const keys = knownKeys(knownHosts, host, port);
  if (keys.length === 0)
    throw configError(
      `the ssh host key of ${hostPattern(host, port)} (DOCKER_HOST) is not known`,
      `set ${ENV_KNOWN_HOSTS} to the output of \`ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${host}\`, checked against the host`,
    );
  const privateKey = env[ENV_KEY]?.trim();
  if (privateKey) registerSecret(privateKey);
  if (!privateKey && !env.SSH_AUTH_SOCK)
    throw configError(`DOCKER_HOST is ${dockerHost}, but there is no ssh key`, `set ${ENV_KEY} to a private key the host accepts`);
  return {
    ...(privateKey ? { privateKey: `${privateKey}\n` } : {}),
    hostVerifier: (key: Buffer) => keys.some((known) => known.equals(key)),
    readyTimeout: 20_000,
  };
}

function readKnownHosts(): string {
  try {
    return readFileSync(join(homedir(), '.ssh', 'known_hosts'), 'utf8');
  } catch {
    return '';
  }
}

/** An ssh failure as the config error it is, naming what to fix; other errors are not ssh's. */
export function sshError(err: { message?: string; level?: string }): MlopsError | undefined {
  if (err.message?.includes('Host denied'))
    return configError(
      'the Docker host offered an ssh host key that does not match the known one',
      `check ${ENV_KNOWN_HOSTS} against the host (\`ssh-keyscan\`); a changed key may mean someone is in between`,
    );
  if (err.level === 'client-authentication')
    return configError('the Docker host refused the ssh key', `set ${ENV_KEY} to a key in the host user's authorized_keys`);
  return undefined;
}
