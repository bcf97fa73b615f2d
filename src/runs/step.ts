import { readArtifact } from '../artifacts.js';
import { decisionFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { rejection } from '../gate/gate.js';
import { alertFor, notifyFailure, notifyRecovered } from '../notify/notify.js';
import { Ledger } from './ledger.js';
import { withRetry } from './retry.js';
import { stepNames, type StepName } from '../step-names.js';
import type { ExtractOutputs } from '../step-outputs.js';
import type { Decision, RunRecord } from '../step-outputs.js';
import { unchangedChampion } from './unchanged.js';

/**
 * Running one step of a run with the pattern's error handling. Kept apart from the table of steps
 * (src/pipeline.ts) so that an action that runs one step bundles that step alone.
 */

export type RunOptions = RunRecord['options'];
/** A step: it reads the artifacts of the steps before it and writes its own; undefined means skipped. */
export type Step = (ctx: StepContext, options: RunOptions) => Promise<unknown>;

/** One step with the pattern's error handling: the ledger, retries by `slo`, and the alert sinks when it finally fails. */
export async function runStep(ctx: StepContext, ledger: Ledger, name: StepName | 'predict', work: Step, run: RunOptions): Promise<unknown> {
  const policy = { ...ctx.config.slo.retry, ...ctx.config.slo.steps[name] };
  try {
    const out = await withRetry(
      async (attempt) => {
        await ledger.attempt(name, attempt);
        return work(ctx, run);
      },
      policy,
      (attempt, err, wait) =>
        ctx.log.warn(`${name}: attempt ${attempt} of ${policy.attempts} failed (${err.message}); retrying in ${(wait / 1000).toFixed(1)}s`),
    );
    await ledger.end(name, out === undefined ? 'skipped' : 'succeeded');
    return out;
  } catch (err) {
    await ledger.end(name, 'failed', err);
    await ledger.finish('failed');
    await notifyFailure(ctx, alertFor(ctx, name, err));
    throw err;
  }
}

/** How a run that got through ends: blessed, which clears open alerts, or rejected, which raises one. */
export async function conclude(ctx: StepContext, ledger: Ledger, decision: Decision): Promise<void> {
  await ledger.finish(decision.blessed ? 'succeeded' : 'rejected');
  if (!decision.blessed) await notifyFailure(ctx, alertFor(ctx, 'gate', rejection(decision)));
  else await notifyRecovered(ctx); // only a blessed run recovers: a rejection is itself an alert
}

/**
 * Ends a run whose extract found the champion's own data, config and code, unless it was asked to
 * retrain: nothing new to train, and no identical version, image or rollout. Returns that champion.
 */
export async function endIfUnchanged(
  ctx: StepContext,
  ledger: Ledger,
  extract: ExtractOutputs,
  run: RunOptions,
): Promise<string | undefined> {
  if (run.retrain) return undefined;
  const champion = await unchangedChampion(ctx, extract.dataHash);
  if (!champion) return undefined;
  ctx.log.info(`nothing new to train: the data, config and code are those of the champion ${champion} (retrain to train anyway)`);
  await ledger.finish('unchanged');
  return champion;
}

/**
 * One step of a run on its own, as a workflow job runs it, with the same ledger, retries and
 * alerts. A rejection at the gate ends the run (the caller decides whether that fails a job); the
 * last step ends a blessed run.
 */
export async function runStepAlone(ctx: StepContext, name: StepName, work: Step, options: RunOptions = {}): Promise<unknown> {
  const ledger = await Ledger.open(ctx, options);
  const run = { ...ledger.run.options, ...definedOnly(options) };
  const out = await runStep(ctx, ledger, name, work, run);
  if (name === 'extract') await endIfUnchanged(ctx, ledger, out as ExtractOutputs, run);
  const decision = name === 'gate' ? (out as Decision) : undefined;
  if (decision && !decision.blessed) await conclude(ctx, ledger, decision);
  if (name === stepNames.at(-1)) await conclude(ctx, ledger, await readArtifact(ctx, decisionFile));
  return out;
}

export const definedOnly = <T extends object>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
