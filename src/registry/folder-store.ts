import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { withFileLock } from '../file-lock.js';
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
    return withFileLock(join(this.root, '.lock'), `the model registry ${this.root}`, () => work(this.root), { waitMs, log: this.log });
  }
}
