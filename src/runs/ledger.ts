import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { runSchema } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { configError, describeError, MlopsError } from '../errors.js';
import { readJson, removeAbandonedTemps, writeJson } from '../json-file.js';
import { thisProcess } from '../processes.js';
import type { RunRecord, RunStatus, StepRecord, StepStatus } from '../step-outputs.js';

const file = (runDir: string) => join(runDir, 'run.json');

/** The run's ledger; undefined for a run not started yet. A file that does not match its schema is a data error. */
export function readRun(runDir: string): Promise<RunRecord | undefined> {
  return readJson<z.ZodType<RunRecord | undefined, unknown>>(file(runDir), runSchema, () => undefined);
}

/** The ledger of one run. Every change is written at once (temp + rename), so a crash loses nothing. */
export class Ledger {
  private constructor(
    private readonly ctx: StepContext,
    readonly run: RunRecord,
  ) {}

  /** Opens the run for this process, which it records: on a runner, each step's job opens it anew. */
  static async open(ctx: StepContext, options: RunRecord['options'], kind?: RunRecord['kind']): Promise<Ledger> {
    const existing = await Ledger.takeOver(ctx);
    if (existing && existing.kind !== kind)
      throw configError(
        `run ${ctx.runId} is a ${existing.kind ?? 'training'} run, not a ${kind ?? 'training'} run`,
        'give this run an id of its own (--run-id), or rekick that one with mlops rekick',
      );
    const run: RunRecord = existing
      ? { ...existing, status: 'running', finishedAt: undefined, process: thisProcess() }
      : {
          runId: ctx.runId,
          project: ctx.config.project,
          status: 'running',
          startedAt: new Date().toISOString(),
          ...(kind && { kind }),
          options,
          steps: [],
          process: thisProcess(),
        };
    const ledger = new Ledger(ctx, run);
    await ledger.save();
    return ledger;
  }

  /** The ledger of an earlier run, for a rekick. */
  static async existing(ctx: StepContext): Promise<RunRecord> {
    const run = await Ledger.takeOver(ctx);
    if (!run) throw configError(`no run ${ctx.runId} in ${ctx.runDir}`, 'see `mlops status` for the recent runs');
    return run;
  }

  /** The run's record, once the temporary files a killed process of the run left in its folder are gone. */
  private static async takeOver(ctx: StepContext): Promise<RunRecord | undefined> {
    await removeAbandonedTemps(ctx.runDir, ctx.log);
    return readRun(ctx.runDir);
  }

  private save(): Promise<void> {
    return writeJson(file(this.ctx.runDir), runSchema, this.run);
  }

  private step(name: string): StepRecord {
    let record = this.run.steps.find((s) => s.name === name);
    if (!record) {
      record = { name, status: 'running', attempts: 0, startedAt: new Date().toISOString(), artifacts: join(this.ctx.runDir, name) };
      this.run.steps.push(record);
    }
    return record;
  }

  async attempt(name: string, attempt: number): Promise<void> {
    const record = this.step(name);
    if (attempt === 1)
      Object.assign(record, { startedAt: new Date().toISOString(), attempts: 0, errorClass: undefined, message: undefined });
    Object.assign(record, { status: 'running', attempts: record.attempts + 1 });
    await this.save();
  }

  async end(name: string, status: StepStatus, error?: unknown): Promise<void> {
    const record = this.step(name);
    record.status = status;
    record.durationMs = Date.now() - Date.parse(record.startedAt);
    if (error !== undefined) {
      record.errorClass = error instanceof MlopsError ? error.errorClass : 'internal';
      record.message = error instanceof Error ? error.message : String(error);
    }
    await this.save();
  }

  async finish(status: RunStatus): Promise<void> {
    Object.assign(this.run, { status, finishedAt: new Date().toISOString() });
    await this.save();
    // A registry that keeps the runs' ledgers (on the git-branch registry, its branch) gets a copy: best effort.
    const { registry } = this.ctx;
    await registry
      .archiveRun(this.run)
      .catch((err: unknown) => this.ctx.log.warn(`could not record the run on ${registry.runArchive}: ${describeError(err)}`));
  }
}

/** The recent runs under a work folder, newest first. */
export async function listRuns(runsDir: string, limit = 20): Promise<RunRecord[]> {
  const names = await readdir(runsDir).catch(() => [] as string[]);
  // One damaged ledger must not hide the others: it is left out of the list (a rekick of it names the fault).
  const runs = (await Promise.all(names.map((n) => readRun(join(runsDir, n)).catch(() => undefined)))).filter(
    (r): r is RunRecord => r !== undefined,
  );
  return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)).slice(0, limit);
}
