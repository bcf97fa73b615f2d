import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { writeArtifact } from '../artifacts.js';
import { predictFile } from '../artifact-files.js';
import type { PredictConfig } from '../config/schema.js';
import { stepDir, type StepContext } from '../context.js';
import { ident, literal, openDuckInstance } from '../data/duckdb.js';
import { resolvePath, sourceFor } from '../data/extract.js';
import { bindWindow, resolveWindow } from '../data/window.js';
import { configError, dataError, describeError } from '../errors.js';
import { count } from '../format.js';
import { preferredBackend } from '../model/backend.js';
import { loadPredictor } from '../model/predictor.js';
import { versionReference } from '../monitor/version-reference.js';
import type { PredictOutputs } from '../step-outputs.js';
import { batchLogLine } from './batch-log.js';
import { checkBatch, predictionColumns } from './batch-input.js';
import { SCORED, scoreRows } from './score.js';
import { SINK_CATALOG, sinkFor } from './sinks.js';

export interface PredictInputs {
  /** Overrides predict.as_of: scoring day D again replaces day D's batch. */
  asOf?: string;
  /** Overrides predict.version: a version such as v3, or an alias. */
  version?: string;
  /** Told the rows scored so far after each chunk. */
  onChunk?: (scored: number) => void;
}

export const predictSettings = (ctx: StepContext): PredictConfig => {
  if (!ctx.config.predict)
    throw configError('the config has no predict section', 'add predict.source, predict.keys and predict.sink (see docs/config.md)');
  return ctx.config.predict;
};

/**
 * `mlops predict`: scores the rows of predict.source's query with a registry version (the champion
 * by default) and writes them to predict.sink, replacing that as_of's batch. The features are held
 * to the training contract (rows that break it are quarantined, under max_quarantine_ratio), scored
 * through the server's predictor a chunk at a time, and counted for the monitor: the batch's
 * summary goes on the registry beside the monitoring history, where `mlops monitor` reads it.
 */
export async function predictBatch(ctx: StepContext, inputs: PredictInputs = {}): Promise<PredictOutputs> {
  const settings = predictSettings(ctx);
  const started = performance.now();
  const window = resolveWindow(inputs.asOf ?? settings.as_of, settings.days);
  const { registry } = ctx;
  const ref = inputs.version ?? settings.version;
  const versions = await registry.versions();
  if (/^v\d+$/.test(ref) && !versions.includes(ref))
    throw configError(
      `the registry has no version ${ref} to score with (it has ${versions.join(', ') || 'none yet'})`,
      'pass --version with one of them, or a registry alias such as champion (predict.version); see mlops models list',
    );
  const { manifest, dir: modelDir } = await registry.open(ref);
  const version = manifest.version;
  const predictor = await loadPredictor(modelDir, preferredBackend(ctx.env));
  const dir = stepDir(ctx, 'predict');
  const tempDir = join(dir, '.tmp');
  await mkdir(tempDir, { recursive: true });
  const instance = await openDuckInstance({ searchPath: ctx.configDir, tempDir, memoryLimit: '256MB' });
  const db = await instance.connect();
  const appendDb = await instance.connect();
  try {
    const sinkCatalog = await attachDatabases(db, ctx, settings);
    ctx.log.info(
      `predict: ${settings.source.kind} as_of=${window.asOf} with model ${version} (${predictor.engine}) into ${settings.sink.kind}`,
    );
    const relation = await sourceFor(settings.source, 'predict.source.query').open(bindWindow(settings.source.query, window), {
      tempDir,
      progress: ctx.progress,
    });
    const quarantineFile = join(dir, 'quarantine.jsonl');
    const checked = await checkBatch(db, {
      config: ctx.config,
      spec: predictor.spec,
      version,
      keys: settings.keys,
      relation,
      quarantineFile,
    });
    if (checked.read === 0)
      throw dataError(`the predict query returned no rows for as_of=${window.asOf}`, 'check predict.source.query, or pass another --as-of');
    const share = checked.quarantined / checked.read;
    const ratio = ctx.config.data.contract.max_quarantine_ratio;
    ctx.log.info(`predict: ${count(checked.read)} rows read, ${count(checked.quarantined)} quarantined (${(share * 100).toFixed(2)}%)`);
    if (share > ratio) {
      const top = Object.entries(checked.rules)
        .slice(0, 3)
        .map(([rule, n]) => `${rule} ${n}`)
        .join(', ');
      throw dataError(
        `${(share * 100).toFixed(1)}% of the batch's rows quarantined, above data.contract.max_quarantine_ratio ${ratio}; top reasons: ${top}`,
        `nothing was scored or written; see ${quarantineFile}`,
      );
    }

    const clean = checked.read - checked.quarantined;
    const scoreStart = performance.now();
    const task = ctx.progress.start('predict: scoring', { total: clean, unit: 'rows' });
    const counts = await scoreRows(db, appendDb, predictor, {
      outlierZ: ctx.config.serving.outlier_z,
      onChunk: (scored) => {
        task.update(scored);
        inputs.onChunk?.(scored);
      },
    });
    const scoreSeconds = (performance.now() - scoreStart) / 1000;
    task.finish(`${count(counts.rows)} rows`);

    const scoredAt = new Date().toISOString();
    const select = batchSelect(settings.keys, predictor.spec.label.classes, { version, runId: ctx.runId, scoredAt, asOf: window.asOf });
    const sink = sinkFor(settings.sink, ctx.configDir, sinkCatalog);
    const writeStart = performance.now();
    const written = await sink.write({ db, select, asOf: window.asOf, runId: ctx.runId, tempDir });
    const writeSeconds = (performance.now() - writeStart) / 1000;
    ctx.log.info(`predict: ${count(written)} predictions written to ${sink.where(window.asOf)} in ${writeSeconds.toFixed(1)}s`);

    const reference = await versionReference(registry, version, ctx.log);
    const outputs: PredictOutputs = {
      runId: ctx.runId,
      window,
      version,
      engine: predictor.engine,
      source: settings.source.kind,
      sink: { kind: settings.sink.kind, where: sink.where(window.asOf) },
      scoredAt,
      rows: { read: checked.read, quarantined: checked.quarantined, scored: counts.rows, written },
      quarantinedShare: share,
      rules: checked.rules,
      classes:
        counts.classes &&
        Object.fromEntries(
          Object.entries(counts.classes).map(([c, n], i) => [
            c,
            { predicted: n, share: counts.rows ? n / counts.rows : 0, training: reference?.labelShares?.[i] ?? null },
          ]),
        ),
      values: counts.values && { min: counts.values.min, max: counts.values.max, mean: counts.values.sum / counts.rows },
      outlierRate: counts.rows ? counts.outliers / counts.rows : null,
      seconds: { score: scoreSeconds, write: writeSeconds, total: (performance.now() - started) / 1000 },
      counts,
    };
    await writeArtifact(ctx, predictFile, outputs);
    // The monitor's copy is best effort, like the monitoring history: the batch stands without it.
    await registry
      .recordBatch(window.asOf, batchLogLine(outputs))
      .catch((err: unknown) => ctx.log.warn(`predict: could not record the batch for the monitor on the registry: ${describeError(err)}`));
    return outputs;
  } finally {
    predictor.dispose();
    appendDb.closeSync();
    db.closeSync();
    instance.closeSync();
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** The batch as the sink gets it: each clean row's keys and prediction, the version, the run, the time and the as_of. */
function batchSelect(
  keys: string[],
  classes: string[] | undefined,
  batch: { version: string; runId: string; scoredAt: string; asOf: string },
): string {
  const expressions: Record<string, string> = {
    label: 's.label',
    probabilities: 'CAST(s.probabilities AS JSON)',
    value: 's.value',
    model_version: literal(batch.version),
    run_id: literal(batch.runId),
    scored_at: `TIMESTAMP ${literal(batch.scoredAt.replace('T', ' ').replace('Z', ''))}`,
    as_of: `DATE ${literal(batch.asOf)}`,
  };
  const columns = [...keys.map((k) => `c.${ident(k)}`), ...predictionColumns(classes).map((name) => `${expressions[name]} AS ${name}`)];
  return `SELECT ${columns.join(', ')} FROM checked c JOIN ${SCORED} s ON c.rowid = s.__row`;
}

/**
 * The DuckDB files the batch reads and writes: the source's database read-only (its tables by their
 * plain names), the sink's writable; one file that is both is attached once, writable. Returns the
 * sink's catalog.
 */
async function attachDatabases(db: DuckDBConnection, ctx: StepContext, settings: PredictConfig): Promise<string> {
  const { source, sink } = settings;
  const sourceDb = source.kind === 'duckdb' && source.database !== ':memory:' ? resolvePath(ctx.configDir, source.database) : undefined;
  const sinkDb = sink.kind === 'duckdb' ? resolvePath(ctx.configDir, sink.database) : undefined;
  try {
    if (sourceDb) {
      await db.run(`ATTACH ${literal(sourceDb)} AS source${sourceDb === sinkDb ? '' : ' (READ_ONLY)'}`);
      await db.run('USE source');
    }
    if (sinkDb && sinkDb !== sourceDb) await db.run(`ATTACH ${literal(sinkDb)} AS ${SINK_CATALOG}`);
  } catch (err) {
    throw configError(
      `cannot open a DuckDB database: ${(err as Error).message.split('\n')[0]}`,
      'check predict.source.database and predict.sink.database',
    );
  }
  return sourceDb && sourceDb === sinkDb ? 'source' : SINK_CATALOG;
}
