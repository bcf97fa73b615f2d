import { resolve as resolvePath } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { FolderRegistry } from './folder-registry.js';
import { GitBranchRegistry } from './git-branch.js';

// FolderRegistry lives in its own module so that git-branch.ts can extend it without an import cycle.
export { FolderRegistry, type Aliases, type VersionManifest } from './folder-registry.js';

/** The configured registry, its path resolved against the config's folder. */
export function openRegistry(config: { registry: Config['registry'] }, configDir: string, log?: Logger): FolderRegistry {
  const { backend, path, branch, remote } = config.registry;
  const root = resolvePath(configDir, path);
  return backend === 'git-branch' ? new GitBranchRegistry(root, { repo: configDir, branch, remote, log }) : new FolderRegistry(root);
}
