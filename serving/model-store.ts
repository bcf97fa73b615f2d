import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { dataError, MlopsError } from '../src/errors.js';
import { readJson } from '../src/json-file.js';
import type { Logger } from '../src/log.js';
import { modelCardSchema } from '../src/model/model-card.js';
import { loadPredictor, type Predictor } from '../src/model/predictor.js';
import type { Registry } from '../src/registry/registry.js';
import { manifestSchema, type VersionManifest } from '../src/registry/schemas.js';
import { DriftMonitor } from './monitor.js';

/** Where models come from: a fixed folder (model-in-image), or a registry alias to follow (model-load). */
export type ModelSource = { kind: 'dir'; dir: string } | { kind: 'registry'; registry: Registry; alias: string };

export interface ServedModel {
  version: string;
  /** The evaluation metrics recorded with the version in the registry, when it came from one. */
  metrics?: Record<string, unknown>;
  predictor: Predictor;
  monitor: DriftMonitor;
  loadedAt: string;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A JSON file checked against its schema; undefined when it does not exist, a `file_invalid` data error when it does not match. */
const readIfAny = <S extends z.ZodType>(file: string, schema: S): Promise<z.output<S> | undefined> =>
  readJson(file, schema).catch((err: unknown) => {
    if (err instanceof MlopsError && err.code === 'file_missing') return undefined;
    throw err;
  });

/** A folder's model: its registry manifest if it has one (an image carries a registry version), else its model card. */
async function describeDir(dir: string): Promise<{ version: string; checksums: Record<string, string>; manifest?: VersionManifest }> {
  const manifest = await readIfAny(join(dir, 'manifest.json'), manifestSchema);
  if (manifest) return { version: manifest.version, checksums: manifest.files, manifest };
  const card = await readIfAny(join(dir, 'metadata.json'), modelCardSchema);
  if (!card)
    throw dataError(`${dir} has no manifest.json or metadata.json`, 'point the server at a trained model folder or a registry version');
  return { version: card.lineage.runId, checksums: card.checksums };
}

/**
 * Holds the model being served. A new version is verified (checksums), loaded and warmed up before
 * an atomic swap; requests read `current` once, so in-flight ones finish on the model they started
 * with. A load that fails keeps the old model serving, and is counted and logged.
 */
export class ModelStore {
  current?: ServedModel;
  loadFailures = 0;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<unknown>;

  constructor(
    private readonly source: ModelSource,
    private readonly options: { driftWindow: number; log: Logger; onFailure?: () => void },
  ) {}

  /** Looks for a new version and swaps to it. Never throws: a failure keeps the current model. */
  check(): Promise<{ version?: string; changed: boolean; error?: string }> {
    // One check at a time: a reload during a poll waits for it rather than loading twice.
    const run = (this.checking ?? Promise.resolve()).then(() => this.checkNow());
    this.checking = run.catch(() => {});
    return run;
  }

  private async checkNow(): Promise<{ version?: string; changed: boolean; error?: string }> {
    const { log } = this.options;
    try {
      let dir: string;
      let version: string;
      let manifest: VersionManifest | undefined;
      if (this.source.kind === 'registry') {
        const resolved = await this.source.registry.resolve(this.source.alias);
        if (!resolved) throw dataError(`the registry has no "${this.source.alias}" yet`, 'run the pipeline to record a champion');
        if (resolved === this.current?.version) return { version: resolved, changed: false };
        ({ dir, manifest } = await this.source.registry.open(resolved)); // verifies every checksum
        version = resolved;
      } else {
        dir = this.source.dir;
        const described = await describeDir(dir);
        if (described.version === this.current?.version) return { version: described.version, changed: false };
        for (const [file, expected] of Object.entries(described.checksums)) {
          const actual = await readFile(join(dir, file)).then(sha256, () => 'missing');
          if (actual !== expected)
            throw new MlopsError('data', `checksum mismatch in ${dir}: ${file} is ${actual === 'missing' ? 'missing' : 'corrupted'}`, {
              code: 'checksum_mismatch',
            });
        }
        version = described.version;
        manifest = described.manifest;
      }
      const predictor = await loadPredictor(dir);
      // Warm up, and prove the model and its preprocessing fit: one all-missing record must give finite outputs.
      const probe = predictor.predict(Object.fromEntries(predictor.spec.features.map((f) => [f.name, [null]])), 1);
      if (probe.length === 0 || !probe.every(Number.isFinite))
        throw dataError(`model ${version} gives no finite prediction on a warm-up record`);
      const served = {
        version,
        metrics: manifest?.summary.metrics as Record<string, unknown> | undefined,
        predictor,
        monitor: new DriftMonitor(predictor.spec, predictor.card.reference ?? {}, this.options.driftWindow),
        loadedAt: new Date().toISOString(),
      };
      const old = this.current;
      this.current = served;
      old?.predictor.model.dispose();
      log.info(`serving model ${version} (${predictor.engine} inference)${old ? `, replacing ${old.version}` : ''}`);
      return { version, changed: true };
    } catch (err) {
      this.loadFailures++;
      this.options.onFailure?.();
      const message = (err as Error).message;
      log.error(`model load failed; ${this.current ? `still serving ${this.current.version}` : 'no model to serve yet'}: ${message}`);
      return { version: this.current?.version, changed: false, error: message };
    }
  }

  /** model-load mode: check every `seconds`. */
  poll(seconds: number): void {
    this.timer = setInterval(() => void this.check(), seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
