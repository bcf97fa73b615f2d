import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { configError, dataError } from '../errors.js';
import { withFileLock } from '../file-lock.js';
import type { HistoryEntry } from '../monitor/report.js';

/**
 * The model registry as a folder: immutable versions (`versions/v<N>/`), each with a manifest of
 * sha256 checksums verified on every read, and aliases (`champion`, `previous`) in `aliases.json`.
 * Every write goes to a temporary name and is renamed into place, so a crash never leaves half a
 * version, and writers take a lock file, so two runs never interleave.
 */

export interface VersionManifest {
  version: string;
  createdAt: string;
  runId: string;
  /** File name -> sha256. */
  files: Record<string, string>;
  /** Anything worth listing without opening the files: key metrics, the gate decision. */
  summary: Record<string, unknown>;
}

export type Aliases = Record<string, string>;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function writeAtomic(path: string, data: string | Buffer): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}

export class FolderRegistry {
  constructor(readonly root: string) {}

  private versionDir = (version: string) => join(this.root, 'versions', version);

  /** The lock file writers take; a subclass may keep it out of the registry folder. */
  protected get lockFile(): string {
    return join(this.root, '.lock');
  }

  /** Runs `work` holding the registry's lock; a lock left by a dead process is taken over. */
  async withLock<T>(work: () => Promise<T>, waitMs = 10_000): Promise<T> {
    await mkdir(this.root, { recursive: true });
    return withFileLock(this.lockFile, `the model registry ${this.root}`, work, waitMs);
  }

  /** Adds a new immutable version from files on disk; returns its manifest. */
  async register(files: string[], info: { runId: string; summary: Record<string, unknown> }): Promise<VersionManifest> {
    return this.withLock(async () => {
      const versions = await this.versions();
      const version = `v${versions.reduce((max, v) => Math.max(max, Number(v.slice(1))), 0) + 1}`;
      const staging = join(this.root, 'versions', `.staging-${randomBytes(4).toString('hex')}`);
      await mkdir(staging, { recursive: true });
      try {
        const manifest: VersionManifest = {
          version,
          createdAt: new Date().toISOString(),
          runId: info.runId,
          files: {},
          summary: info.summary,
        };
        for (const file of files) {
          const name = basename(file);
          await copyFile(file, join(staging, name));
          manifest.files[name] = sha256(await readFile(join(staging, name)));
        }
        await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
        await rename(staging, this.versionDir(version));
        return manifest;
      } catch (err) {
        await rm(staging, { recursive: true, force: true });
        throw err;
      }
    });
  }

  async versions(): Promise<string[]> {
    const names = await readdir(join(this.root, 'versions')).catch(() => [] as string[]);
    return names.filter((n) => /^v\d+$/.test(n)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  async aliases(): Promise<Aliases> {
    try {
      return JSON.parse(await readFile(join(this.root, 'aliases.json'), 'utf8')) as Aliases;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw dataError(
        `the registry's aliases.json is unreadable: ${(err as Error).message}`,
        'restore it from a backup, or delete it and promote a version again',
      );
    }
  }

  /** A version name, or an alias such as `champion`, to the version it names (undefined if unset). */
  async resolve(ref: string): Promise<string | undefined> {
    if (/^v\d+$/.test(ref)) return ref;
    return (await this.aliases())[ref];
  }

  /** The manifest of a version after checking every file against its checksum; the folder of its files. */
  async open(ref: string): Promise<{ manifest: VersionManifest; dir: string }> {
    const version = await this.resolve(ref);
    if (!version) throw configError(`the registry has no "${ref}"`, 'see `mlops models list`');
    const dir = this.versionDir(version);
    let manifest: VersionManifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as VersionManifest;
    } catch {
      throw dataError(
        `"${ref}" points at version ${version}, which is missing or has no readable manifest in ${this.root}`,
        'point the alias at an existing version with `mlops models promote`',
      );
    }
    for (const [name, expected] of Object.entries(manifest.files)) {
      const actual = await readFile(join(dir, name)).then(sha256, () => 'missing');
      if (actual !== expected) {
        throw dataError(
          `checksum mismatch in registry version ${version}: ${name} is ${actual === 'missing' ? 'missing' : 'corrupted'}`,
          'the file was changed or damaged; restore it, or roll back to another version',
        );
      }
    }
    return { manifest, dir };
  }

  /**
   * Facts learnt about a version after it was recorded, such as the image it was built into and the
   * digest it was pushed as. They live beside the checksummed manifest, which never changes.
   */
  async tag(ref: string, tags: Record<string, string>): Promise<Record<string, string>> {
    const { manifest } = await this.open(ref);
    return this.withLock(async () => {
      const merged = { ...(await this.tags(manifest.version)), ...tags };
      await writeAtomic(join(this.versionDir(manifest.version), 'tags.json'), JSON.stringify(merged, null, 2) + '\n');
      return merged;
    });
  }

  async tags(version: string): Promise<Record<string, string>> {
    const text = await readFile(join(this.versionDir(version), 'tags.json'), 'utf8').catch(() => '{}');
    return JSON.parse(text) as Record<string, string>;
  }

  /**
   * Adds monitor results to each version's history, one file per run, named by the window's end so
   * the names sort by time: `monitoring/<version>/<YYYYMMDDTHHMMSSmmmZ>-<runId>.json`.
   */
  async recordMonitoring(entries: HistoryEntry[]): Promise<void> {
    await this.withLock(async () => {
      for (const entry of entries) {
        const dir = join(this.root, 'monitoring', entry.version);
        await mkdir(dir, { recursive: true });
        const stamp = entry.window.end.replace(/[-:.]/g, '');
        await writeAtomic(join(dir, `${stamp}-${entry.runId}.json`), JSON.stringify(entry, null, 2) + '\n');
      }
    });
  }

  /** A version's monitoring history, oldest first: its last `limit` runs. */
  async monitoringHistory(version: string, limit = 100): Promise<HistoryEntry[]> {
    const dir = join(this.root, 'monitoring', version);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
    return Promise.all(names.slice(-limit).map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as HistoryEntry));
  }

  /** Makes a version the champion; the old champion becomes `previous`. */
  async promote(ref: string): Promise<Aliases> {
    const { manifest } = await this.open(ref);
    return this.withLock(async () => {
      const aliases = await this.aliases();
      if (aliases.champion !== manifest.version) {
        if (aliases.champion) aliases.previous = aliases.champion;
        aliases.champion = manifest.version;
        await writeAtomic(join(this.root, 'aliases.json'), JSON.stringify(aliases, null, 2) + '\n');
      }
      return aliases;
    });
  }

  /** Swaps `champion` and `previous`: the previous model serves again (and a second rollback undoes it). */
  async rollback(): Promise<Aliases> {
    const aliases = await this.aliases();
    if (!aliases.previous) throw configError('there is no previous version to roll back to', 'see `mlops models list`');
    await this.open(aliases.previous);
    return this.withLock(async () => {
      const current = await this.aliases();
      [current.champion, current.previous] = [current.previous!, current.champion!];
      await writeAtomic(join(this.root, 'aliases.json'), JSON.stringify(current, null, 2) + '\n');
      return current;
    });
  }
}
