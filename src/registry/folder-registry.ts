import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { configError, MlopsError } from '../errors.js';
import { withFileLock } from '../file-lock.js';
import { readJson, writeJson } from '../json-file.js';
import type { HistoryEntry } from '../monitor/report.js';
import {
  aliasesSchema,
  historyEntrySchema,
  manifestSchema,
  tagsFileSchema,
  type Aliases,
  type VersionManifest,
  type VersionTags,
} from './schemas.js';

export type { Aliases, VersionManifest, VersionTags } from './schemas.js';

/**
 * The model registry as a folder: immutable versions (`versions/v<N>/`), each with a manifest of
 * sha256 checksums verified on every read, and aliases (`champion`, `previous`) in `aliases.json`.
 * Every write goes to a temporary name and is renamed into place, so a crash never leaves half a
 * version, and writers take a lock file, so two runs never interleave. Every file is checked
 * against its schema (schemas.ts) on write and on read: one that does not match is a data error
 * (`file_invalid`) naming the file and its first bad key.
 */

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

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
        await writeJson(join(staging, 'manifest.json'), manifestSchema, manifest);
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

  /** `aliases.json`; none before the first promotion. */
  async aliases(): Promise<Aliases> {
    return readJson(join(this.root, 'aliases.json'), aliasesSchema, () => ({})).catch((err: unknown) => {
      throw hinted(err, 'restore it from a backup, or delete it and promote a version again');
    });
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
    const manifest = await readJson(join(dir, 'manifest.json'), manifestSchema).catch((err: unknown) => {
      if (!(err instanceof MlopsError && err.code === 'file_missing'))
        throw hinted(err, 'restore the version from a backup, or roll back to another one');
      throw new MlopsError('data', `"${ref}" points at version ${version}, which is missing or has no manifest in ${this.root}`, {
        code: 'file_missing',
        hint: 'point the alias at an existing version with `mlops models promote`',
      });
    });
    if (manifest.version !== version)
      throw new MlopsError(
        'data',
        `${join(dir, 'manifest.json')} is not what this version expects: version: expected "${version}", got "${manifest.version}"`,
        {
          code: 'file_invalid',
          hint: 'a version folder was copied or renamed by hand; restore it from a backup',
        },
      );
    for (const [name, expected] of Object.entries(manifest.files)) {
      const actual = await readFile(join(dir, name)).then(sha256, () => 'missing');
      if (actual !== expected) {
        throw new MlopsError(
          'data',
          `checksum mismatch in registry version ${version}: ${name} is ${actual === 'missing' ? 'missing' : 'corrupted'}`,
          { code: 'checksum_mismatch', hint: 'the file was changed or damaged; restore it, or roll back to another version' },
        );
      }
    }
    return { manifest, dir };
  }

  /**
   * Facts learnt about a version after it was recorded, such as the image it was built into and the
   * digest it was pushed as. They live beside the checksummed manifest, which never changes.
   */
  async tag(ref: string, tags: VersionTags): Promise<VersionTags> {
    const { manifest } = await this.open(ref);
    return this.withLock(async () => {
      const given = Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined));
      const merged = { ...(await this.tags(manifest.version)), ...given };
      await writeJson(join(this.versionDir(manifest.version), 'tags.json'), tagsFileSchema, merged);
      return merged;
    });
  }

  /** A version's tags: those the pipeline sets, typed, and any of the user's own (string values), kept as they are. */
  async tags(version: string): Promise<VersionTags> {
    return readJson(join(this.versionDir(version), 'tags.json'), tagsFileSchema, () => ({})).catch((err: unknown) => {
      throw hinted(err, 'fix the file by hand (string values only), or delete it to lose the tags');
    });
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
        await writeJson(join(dir, `${stamp}-${entry.runId}.json`), historyEntrySchema, entry);
      }
    });
  }

  /** A version's monitoring history, oldest first: its last `limit` runs. */
  async monitoringHistory(version: string, limit = 100): Promise<HistoryEntry[]> {
    const dir = join(this.root, 'monitoring', version);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
    return Promise.all(
      names.slice(-limit).map((n) =>
        readJson(join(dir, n), historyEntrySchema).catch((err: unknown) => {
          throw hinted(err, 'delete the file to drop that run from the history');
        }),
      ),
    );
  }

  /** Makes a version the champion; the old champion becomes `previous`. */
  async promote(ref: string): Promise<Aliases> {
    const { manifest } = await this.open(ref);
    return this.withLock(async () => {
      const aliases = await this.aliases();
      if (aliases.champion !== manifest.version) {
        if (aliases.champion) aliases.previous = aliases.champion;
        aliases.champion = manifest.version;
        await writeJson(join(this.root, 'aliases.json'), aliasesSchema, aliases);
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
      await writeJson(join(this.root, 'aliases.json'), aliasesSchema, current);
      return current;
    });
  }
}

/** A data error about a registry file, with a fix that fits the file; any other error unchanged. */
function hinted(err: unknown, hint: string): unknown {
  if (!(err instanceof MlopsError && err.code === 'file_invalid')) return err;
  return new MlopsError('data', err.message, { code: err.code, hint, cause: err });
}
