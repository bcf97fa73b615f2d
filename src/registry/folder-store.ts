import type { Dirent } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { withFileLock } from '../file-lock.js';
import { abandonedTemp } from '../json-file.js';
import type { Logger } from '../log.js';
import type { RegistryStore } from './store.js';

/**
 * The registry as a plain folder. Writers take a lock file in it, so two runs never interleave;
 * readers take none, because every write goes to a temporary name and is renamed into place, so a
 * reader never sees half a file. It keeps no copy of the runs' ledgers: they stay in the workdir.
 */
export class FolderStore implements RegistryStore {
  readonly runArchive = undefined;

  constructor(
    readonly root: string,
    private readonly log?: Logger,
  ) {}

  read<T>(work: (root: string) => Promise<T>): Promise<T> {
    return work(this.root);
  }

  /** A folder keeps no history: the message is not recorded. */
  async transact<T>(work: (root: string) => Promise<T>, _message: (result: T) => string, waitMs = 10_000): Promise<T> {
    await mkdir(this.root, { recursive: true });
    const what = `the model registry ${this.root}`;
    return withFileLock(
      join(this.root, '.lock'),
      what,
      async () => {
        await this.removeLeftovers(what);
        return work(this.root);
      },
      { waitMs, log: this.log },
    );
  }

  /** Holding the lock, no write is under way: a temporary name in the folder is a killed run's. */
  private async removeLeftovers(what: string): Promise<void> {
    const found = (await leftovers(this.root)).sort();
    if (!found.length) return;
    await Promise.all(found.map((path) => rm(path, { recursive: true, force: true })));
    this.log?.warn(`${what}: removed what killed runs left: ${found.map((path) => relative(this.root, path)).join(', ')}`);
  }
}

/**
 * The temporary names writes use: a `.staging-*` folder per version (registry.ts), a `*.tmp` file
 * per file (json-file.ts). The lock's own temporary files are left alone while their writer lives.
 */
const isLeftover = (entry: Dirent) =>
  entry.isDirectory()
    ? entry.name.startsWith('.staging-')
    : entry.name.endsWith('.tmp') && (!entry.name.startsWith('.lock.') || abandonedTemp(entry.name));

async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (isLeftover(entry)) return [path];
      return entry.isDirectory() ? leftovers(path) : [];
    }),
  );
  return found.flat();
}
