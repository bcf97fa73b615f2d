import { configError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { Retirement } from '../step-outputs.js';

export async function retirement(registry: Registry, version: string): Promise<Retirement | undefined> {
  const tags = await registry.tags(version);
  return tags.retired_at ? { at: tags.retired_at, reason: tags.retired_reason ?? '' } : undefined;
}

export async function retire(registry: Registry, version: string, reason: string, now = new Date()): Promise<Retirement> {
  await registry.tag(version, { retired_at: now.toISOString(), retired_reason: reason });
  return { at: now.toISOString(), reason };
}

/** The versions among `versions` that are retired. */
export async function retiredAmong(registry: Registry, versions: Iterable<string>): Promise<Set<string>> {
  const unique = [...new Set(versions)];
  const found = await Promise.all(unique.map(async (v) => ((await retirement(registry, v)) ? v : undefined)));
  return new Set(found.filter((v): v is string => v !== undefined));
}

/** Deploying a retired version is refused, naming when and why it was retired. */
export async function assertNotRetired(registry: Registry, version: string): Promise<void> {
  const retired = await retirement(registry, version);
  if (retired)
    throw configError(
      `${version} was retired at ${retired.at}: ${retired.reason}`,
      'deploy another version (`mlops models list`), or train a new one with `mlops run`',
    );
}
