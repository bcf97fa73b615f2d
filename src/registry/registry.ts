import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { runSchema } from '../artifact-files.js';
import type { Config } from '../config/schema.js';
import { configError, MlopsError } from '../errors.js';
import { readJson, writeAtomic, writeJson } from '../json-file.js';
import type { Logger } from '../log.js';
import type { HistoryEntry } from '../monitor/report.js';
import { redact } from '../secrets.js';
import type { RunRecord } from '../step-outputs.js';
import { FolderStore } from './folder-store.js';
import { sha256File, verifyModelFolder } from './model-files.js';
import { GitStore } from './git-store.js';
import {
  aliasesSchema,
  historyEntrySchema,
  manifestSchema,
  tagsFileSchema,
  type Aliases,
  type VersionManifest,
  type VersionTags,
} from './schemas.js';
import type { RegistryStore } from './store.js';

export type { Aliases, VersionManifest, VersionTags } from './schemas.js';
export type { RegistryStore } from './store.js';

/**
 * The model registry: immutable versions (`versions/v<N>/`), each with a manifest of sha256
 * checksums verified whenever a version is opened to load its model, and aliases (`champion`,
 * `previous`) in `aliases.json`. Every write goes to a temporary name and is renamed into place,
 * so a crash never leaves half a version. Every file is checked against its schema (schemas.ts) on write and on read: one that
 * does not match is a data error (`file_invalid`) naming the file and its first bad key.
 *
 * Where the folder lives is the store's business (store.ts): every method runs inside the store's
 * `read` or `transact`, and the functions below it work on the folder the store hands them, never
 * through the registry again, so no operation can bypass the store's lock, sync or push.
 */
export class Registry {
  constructor(private readonly store: RegistryStore) {}

  /** Where a copy of each finished run's ledger is kept (for messages); undefined when nowhere. */
  get runArchive(): string | undefined {
    return this.store.runArchive;
  }

  /** Adds a new immutable version from files on disk; returns its manifest. */
  register(files: string[], info: { runId: string; summary: Record<string, unknown> }): Promise<VersionManifest> {
    return this.store.transact(
      (root) => addVersion(root, files, info),
      (m) => `register ${m.version} (run ${info.runId})`,
    );
  }

  versions(): Promise<string[]> {
    return this.store.read(listVersions);
  }

  /** `aliases.json`; none before the first promotion. */
  aliases(): Promise<Aliases> {
    return this.store.read(readAliases);
  }

  /** A version name, or an alias such as `champion`, to the version it names (undefined if unset). */
  resolve(ref: string): Promise<string | undefined> {
    return this.store.read((root) => resolveRef(root, ref));
  }

  /** The manifest of a version after checking every file against its checksum; the folder of its files: to load its model. */
  open(ref: string): Promise<{ manifest: VersionManifest; dir: string }> {
    return this.store.read((root) => openVersion(root, ref));
  }

  /**
   * The manifest of a version or alias, its files unchecked: what is known of a version (its name,
   * run, metrics), for which reading every file of its model again would be waste. Loading the model
   * goes through `open`.
   */
  manifest(ref: string): Promise<VersionManifest> {
    return this.store.read(async (root) => (await readManifest(root, ref)).manifest);
  }

  /**
   * Facts learnt about a version after it was recorded, such as the image it was built into and the
   * digest it was pushed as. They live beside the checksummed manifest, which never changes.
   */
  tag(ref: string, tags: VersionTags): Promise<VersionTags> {
    return this.store.transact(
      async (root) => {
        const { manifest } = await readManifest(root, ref);
        const given = Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== undefined));
        const merged = { ...(await readTags(root, manifest.version)), ...given };
        await writeJson(join(versionDir(root, manifest.version), 'tags.json'), tagsFileSchema, merged);
        return merged;
      },
      () => `tag ${ref}: ${Object.keys(tags).join(', ')}`,
    );
  }

  /** A version's tags: those the pipeline sets, typed, and any of the user's own (string values), kept as they are. */
  tags(version: string): Promise<VersionTags> {
    return this.store.read((root) => readTags(root, version));
  }

  /**
   * Adds monitor results to each version's history, one file per run, named by the window's end so
   * the names sort by time: `monitoring/<version>/<YYYYMMDDTHHMMSSmmmZ>-<runId>.json`.
   */
  recordMonitoring(entries: HistoryEntry[]): Promise<void> {
    return this.store.transact(
      async (root) => {
        for (const entry of entries) {
          const dir = join(root, 'monitoring', entry.version);
          await mkdir(dir, { recursive: true });
          const stamp = entry.window.end.replace(/[-:.]/g, '');
          await writeJson(join(dir, `${stamp}-${entry.runId}.json`), historyEntrySchema, entry);
        }
      },
      () => `monitor run ${entries[0]?.runId}: ${entries.map((e) => `${e.version} ${e.breaches.length ? 'breached' : 'ok'}`).join(', ')}`,
    );
  }

  /** A version's monitoring history, oldest first: its last `limit` runs. */
  monitoringHistory(version: string, limit = 100): Promise<HistoryEntry[]> {
    return this.store.read(async (root) => {
      const dir = join(root, 'monitoring', version);
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
      return Promise.all(
        names.slice(-limit).map((n) =>
          readJson(join(dir, n), historyEntrySchema).catch((err: unknown) => {
            throw hinted(err, 'delete the file to drop that run from the history');
          }),
        ),
      );
    });
  }

  /**
   * Keeps a scored batch's line of prediction log for the monitor, as `batches/<as_of>.jsonl`: one
   * file per day, so scoring a day again replaces its line as the sink replaces its rows.
   */
  recordBatch(asOf: string, line: string): Promise<void> {
    return this.store.transact(
      async (root) => {
        await mkdir(join(root, 'batches'), { recursive: true });
        await writeAtomic(join(root, 'batches', `${asOf}.jsonl`), `${line}\n`);
      },
      () => `batch of ${asOf}`,
    );
  }

  /** The scored batches' lines of prediction log, by file, oldest day first. */
  batchLogs(): Promise<{ file: string; lines: string[] }[]> {
    return this.store.read(async (root) => {
      const dir = join(root, 'batches');
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl')).sort();
      return Promise.all(
        names.map(async (n) => ({ file: join(dir, n), lines: (await readFile(join(dir, n), 'utf8')).split('\n').filter(Boolean) })),
      );
    });
  }

  /**
   * Makes a version the champion; the old champion becomes `previous`. `guard`, when given, sees the
   * champion about to be replaced, inside the lock, and refuses the promotion by throwing: no other
   * run can promote between its check and the change.
   */
  promote(ref: string, guard?: PromotionGuard): Promise<Aliases> {
    return this.store.transact(
      async (root) => {
        const { manifest } = await openVersion(root, ref);
        const aliases = await readAliases(root);
        if (aliases.champion !== manifest.version) {
          if (guard)
            await guard(aliases.champion ? { version: aliases.champion, dir: (await openVersion(root, aliases.champion)).dir } : undefined);
          if (aliases.champion) aliases.previous = aliases.champion;
          aliases.champion = manifest.version;
          await writeJson(join(root, 'aliases.json'), aliasesSchema, aliases);
        }
        return aliases;
      },
      (a) => `promote ${a.champion} to champion`,
    );
  }

  /** Swaps `champion` and `previous`: the previous model serves again (and a second rollback undoes it). */
  rollback(): Promise<Aliases> {
    return this.store.transact(
      async (root) => {
        const aliases = await readAliases(root);
        if (!aliases.previous) throw configError('there is no previous version to roll back to', 'see `mlops models list`');
        await openVersion(root, aliases.previous);
        [aliases.champion, aliases.previous] = [aliases.previous, aliases.champion!];
        await writeJson(join(root, 'aliases.json'), aliasesSchema, aliases);
        return aliases;
      },
      (a) => `roll back to ${a.champion} (from ${a.previous})`,
    );
  }

  /**
   * Keeps a copy of a finished run's ledger, as `runs/<runId>.json`, where the store keeps one
   * (`runArchive`); a store that keeps none is left alone. Error messages in the copy lose any
   * secret: the registry may be public (a branch of a public repository).
   */
  async archiveRun(record: RunRecord): Promise<void> {
    if (this.store.runArchive === undefined) return;
    await this.store.transact(
      async (root) => {
        const redacted = JSON.parse(redact(JSON.stringify(record))) as RunRecord;
        await writeJson(join(root, 'runs', `${record.runId}.json`), runSchema, redacted);
      },
      () => `record run ${record.runId} (${record.status})`,
    );
  }

  /** Runs `work` holding the registry's lock as a write does (waiting up to `waitMs`): nothing else writes meanwhile. */
  withLock<T>(work: () => Promise<T>, waitMs?: number): Promise<T> {
    return this.store.transact(
      () => work(),
      () => 'hold the lock',
      waitMs,
    );
  }
}

/** A check of the champion a promotion replaces (none on a first promotion); it refuses by throwing. */
export type PromotionGuard = (champion: { version: string; dir: string } | undefined) => Promise<void>;

/** What opening the registry needs of a step's context; a StepContext is one. */
export interface RegistryContext {
  config: { registry: Config['registry'] };
  /** `registry.path` is relative to it; for git-branch, it is also a folder of the repository checkout. */
  configDir: string;
  /** The run's environment: git-branch runs git with it. */
  env: NodeJS.ProcessEnv;
  log?: Logger;
}

/** The configured registry, its path resolved against the config's folder. */
export function openRegistry(ctx: RegistryContext): Registry {
  const settings = ctx.config.registry;
  const root = resolvePath(ctx.configDir, settings.path);
  switch (settings.backend) {
    case 'folder':
      return new Registry(new FolderStore(root, ctx.log));
    case 'git-branch': {
      const { branch, remote } = settings;
      return new Registry(new GitStore(root, { repo: ctx.configDir, branch, remote, env: ctx.env, log: ctx.log }));
    }
  }
}

const versionDir = (root: string, version: string) => join(root, 'versions', version);

async function listVersions(root: string): Promise<string[]> {
  const names = await readdir(join(root, 'versions')).catch(() => [] as string[]);
  return names.filter((n) => /^v\d+$/.test(n)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

async function addVersion(
  root: string,
  files: string[],
  info: { runId: string; summary: Record<string, unknown> },
): Promise<VersionManifest> {
  const versions = await listVersions(root);
  const version = `v${versions.reduce((max, v) => Math.max(max, Number(v.slice(1))), 0) + 1}`;
  const staging = join(root, 'versions', `.staging-${randomBytes(4).toString('hex')}`);
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
      manifest.files[name] = await sha256File(join(staging, name));
    }
    const earlier = await registeredBefore(root, versions, manifest);
    if (earlier) return earlier;
    await writeJson(join(staging, 'manifest.json'), manifestSchema, manifest);
    await rename(staging, versionDir(root, version));
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The version that holds these very files from this very run, if any: a rekick of a run killed
 * after its version was renamed into place, but before its ledger said so, goes on with that one.
 * Other files from the same run (a rekick from train) are a new version.
 */
async function registeredBefore(root: string, versions: string[], wanted: VersionManifest): Promise<VersionManifest | undefined> {
  for (const version of versions.toReversed()) {
    const manifest = await readJson(join(versionDir(root, version), 'manifest.json'), manifestSchema).catch(() => undefined);
    if (manifest?.runId === wanted.runId && isDeepStrictEqual(manifest.files, wanted.files)) return manifest;
  }
  return undefined;
}

function readAliases(root: string): Promise<Aliases> {
  return readJson(join(root, 'aliases.json'), aliasesSchema, () => ({})).catch((err: unknown) => {
    throw hinted(err, 'restore it from a backup, or delete it and promote a version again');
  });
}

async function resolveRef(root: string, ref: string): Promise<string | undefined> {
  if (/^v\d+$/.test(ref)) return ref;
  return (await readAliases(root))[ref];
}

/** A version's manifest, checked against its schema and its folder's name; its files are not read. */
async function readManifest(root: string, ref: string): Promise<{ manifest: VersionManifest; dir: string }> {
  const version = await resolveRef(root, ref);
  if (!version) throw configError(`the registry has no "${ref}"`, 'see `mlops models list`');
  const dir = versionDir(root, version);
  const manifest = await readJson(join(dir, 'manifest.json'), manifestSchema).catch((err: unknown) => {
    if (!(err instanceof MlopsError && err.code === 'file_missing'))
      throw hinted(err, 'restore the version from a backup, or roll back to another one');
    throw new MlopsError('data', `"${ref}" points at version ${version}, which is missing or has no manifest in ${root}`, {
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
  return { manifest, dir };
}

async function openVersion(root: string, ref: string): Promise<{ manifest: VersionManifest; dir: string }> {
  const { manifest, dir } = await readManifest(root, ref);
  await verifyModelFolder(
    dir,
    manifest,
    `registry version ${manifest.version}`,
    'the file was changed or damaged; restore it, or roll back to another version',
  );
  return { manifest, dir };
}

function readTags(root: string, version: string): Promise<VersionTags> {
  return readJson(join(versionDir(root, version), 'tags.json'), tagsFileSchema, () => ({})).catch((err: unknown) => {
    throw hinted(err, 'fix the file by hand (string values only), or delete it to lose the tags');
  });
}

/** A data error about a registry file, with a fix that fits the file; any other error unchanged. */
function hinted(err: unknown, hint: string): unknown {
  if (!(err instanceof MlopsError && err.code === 'file_invalid')) return err;
  return new MlopsError('data', err.message, { code: err.code, hint, cause: err });
}
