import Docker from 'dockerode';

/**
 * Real services for integration tests. Where a service is absent the tests skip with the reason,
 * except in CI (`CI` set), where a missing service fails them: CI must prove they pass.
 */
export function postgresUrl(): string | undefined {
  const url = process.env.MLOPS_TEST_PG_URL;
  if (!url && process.env.CI) {
    throw new Error('MLOPS_TEST_PG_URL is not set in CI: .ci/run must start PostgreSQL and export it');
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
    if (process.env.CI) throw new Error(`no Docker engine answers at ${where} in CI: .ci/run must start dockerd`, { cause: err });
    console.warn(`skipping Docker tests: no engine answers at ${where}`);
    return false;
  }
}

/** An image registry with htpasswd authentication, as .ci/run starts it; undefined (skip) outside CI when unset. */
export function imageRegistry(): { address: string; username: string; password: string } | undefined {
  const { MLOPS_TEST_REGISTRY: address, MLOPS_TEST_REGISTRY_USERNAME: username, MLOPS_TEST_REGISTRY_PASSWORD: password } = process.env;
  if (address && username && password) return { address, username, password };
  if (process.env.CI)
    throw new Error('MLOPS_TEST_REGISTRY (with _USERNAME and _PASSWORD) is not set in CI: .ci/run must start the registry');
  console.warn('skipping registry tests: set MLOPS_TEST_REGISTRY, _USERNAME and _PASSWORD (see .ci/run) to run them');
  return undefined;
}
