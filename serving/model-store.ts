import { join } from 'node:path';
import { dataError, MlopsError } from '../src/errors.js';
import { readJson } from '../src/json-file.js';
import type { Logger } from '../src/log.js';
import { loadPredictor, type Predictor } from '../src/model/predictor.js';
import { verifyModelFolder } from '../src/registry/model-files.js';
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

/**
 * A fixed folder's model (model-in-image): a registry version's folder, manifest and all. Without a
 * valid manifest it is refused: the model card's own checksums are the model's word for itself.
 */
async function openDir(dir: string): Promise<VersionManifest> {
  const manifest = await readJson(join(dir, 'manifest.json'), manifestSchema).catch((err: unknown) => {
    if (!(err instanceof MlopsError && err.code === 'file_missing')) throw err;
    throw dataError(
      `${dir} has no manifest.json: only a registry version's folder is served, its files checked against the manifest`,
      'serve a version from the registry (`mlops models show` names its folder), or record the model with `mlops run`',
    );
  });
  await verifyModelFolder(dir, manifest, dir, 'the folder was changed or damaged; build the image again from the registry');
  return manifest;
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
      let manifest: VersionManifest;
      if (this.source.kind === 'registry') {
        const resolved = await this.source.registry.resolve(this.source.alias);
        if (!resolved) throw dataError(`the registry has no "${this.source.alias}" yet`, 'run the pipeline to record a champion');
        if (resolved === this.current?.version) return { version: resolved, changed: false };
        ({ dir, manifest } = await this.source.registry.open(resolved)); // verifies every checksum
        version = resolved;
      } else {
        dir = this.source.dir;
        manifest = await openDir(dir);
        version = manifest.version;
        if (version === this.current?.version) return { version, changed: false };
      }
      const predictor = await loadPredictor(dir);
      // Warm up, and prove the model and its preprocessing fit: one all-missing record must give finite outputs.
      const probe = predictor.predict(Object.fromEntries(predictor.spec.features.map((f) => [f.name, [null]])), 1);
      if (probe.length === 0 || !probe.every(Number.isFinite))
        throw dataError(`model ${version} gives no finite prediction on a warm-up record`);
      const served = {
        version,
        metrics: manifest.summary.metrics as Record<string, unknown> | undefined,
        predictor,
        monitor: new DriftMonitor(predictor.spec, predictor.card.reference ?? {}, this.options.driftWindow),
        loadedAt: new Date().toISOString(),
      };
      const old = this.current;
      this.current = served;
      old?.predictor.dispose();
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
