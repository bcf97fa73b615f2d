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
