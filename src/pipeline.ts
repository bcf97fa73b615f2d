import { readArtifact } from './artifacts.js';
import {
  buildFile,
  decisionFile,
  deployFile,
  evaluationFile,
  extractFile,
  pushFile,
  recordFile,
  trainFile,
  type Artifact,
} from './artifact-files.js';
import type { StepContext } from './context.js';
import { extract } from './data/extract.js';
import type { ExtractOutputs } from './step-outputs.js';
import { configError } from './errors.js';
import { evaluate } from './evaluate/evaluate.js';
import { gate } from './gate/gate.js';
import { train } from './model/train.js';
import { deploy } from './deploy/rollout.js';
import { buildStep } from './image/build.js';
import { pushStep } from './image/push.js';
import { record } from './registry/record.js';
import { Ledger } from './runs/ledger.js';
import { conclude, definedOnly, endIfUnchanged, runStep, type RunOptions, type Step } from './runs/step.js';
import { stepNames, type StepName } from './step-names.js';
import type { PipelineResult, PredictOutputs, UnchangedRun } from './step-outputs.js';
import { runPredict } from './predict/run.js';

export type { RunOptions, Step };

/** A rekicked batch scoring run. */
export interface PredictRun {
  predict: PredictOutputs;
}

/** The pipeline's steps; each reads the artifacts of the ones before it, so any can be rerun alone. */
export const steps: Record<StepName, Step> = { extract, train, evaluate, gate, record, build: buildStep, push: pushStep, deploy };

export interface PipelineOptions extends RunOptions {
  /** Resume at this step, reusing the artifacts of the steps before it. */
  from?: StepName;
  /** The step functions; tests swap one to inject a failure. */
  steps?: Record<StepName, Step>;
}

/**
 * Runs extract -> train -> evaluate -> gate -> record -> build -> push -> deploy with the pattern's
 * error handling: each step's attempts, duration and error go to the run ledger; transient errors
 * are retried by the `slo` policy; a final failure is sent to every alert sink, with the command
 * that resumes the run.
 */
export async function runPipeline(ctx: StepContext, options: PipelineOptions = {}): Promise<PipelineResult | UnchangedRun> {
  const asked = { asOf: options.asOf, force: options.force, retrain: options.retrain };
  const ledger = await Ledger.open(ctx, asked);
  const run = { ...ledger.run.options, ...definedOnly(asked) };
  const first = stepNames.indexOf(options.from ?? 'extract');
  if (first < 0) throw configError(`--from: expected one of ${stepNames.join(', ')}, got "${options.from}"`);
  for (const name of stepNames.slice(first)) {
    const out = await runStep(ctx, ledger, name, (options.steps ?? steps)[name], run);
    const unchanged = name === 'extract' && (await endIfUnchanged(ctx, ledger, out as ExtractOutputs, run));
    if (unchanged) return { extract: out as ExtractOutputs, unchanged };
  }
  return concluded(ctx, ledger);
}

/** Ends a run whose steps all ended: blessed or rejected, by its decision; its outputs from their artifacts. */
async function concluded(ctx: StepContext, ledger: Ledger): Promise<PipelineResult> {
  const ifSucceeded = async <T>(artifact: Artifact<T>) =>
    ledger.run.steps.find((s) => s.name === artifact.step)?.status === 'succeeded' ? readArtifact(ctx, artifact) : undefined;
  const result: PipelineResult = {
    extract: await readArtifact(ctx, extractFile),
    train: await readArtifact(ctx, trainFile),
    evaluate: await readArtifact(ctx, evaluationFile),
    decision: await readArtifact(ctx, decisionFile),
    record: await ifSucceeded(recordFile),
    build: await ifSucceeded(buildFile),
    push: await ifSucceeded(pushFile),
    deploy: await ifSucceeded(deployFile),
  };
  await conclude(ctx, ledger, result.decision);
  return result;
}

/**
 * Resumes a run at `from`, or at the first step that did not end (the one after the last that
 * succeeded, for a run killed between two steps), reusing the artifacts before it; a run killed
 * after its last step is concluded. A run that ended (blessed, rejected or unchanged) has nothing
 * left to do without `from`: undefined.
 */
export async function rekick(ctx: StepContext, from?: StepName): Promise<PipelineResult | UnchangedRun | PredictRun | undefined> {
  const run = await Ledger.existing(ctx);
  if (run.kind === 'predict') {
    if (from)
      throw configError(`run ${ctx.runId} is a batch scoring run, which has one step: --from does not apply`, `mlops rekick ${ctx.runId}`);
    if (!['failed', 'running'].includes(run.status)) {
      ctx.log.info(
        `rekick ${ctx.runId}: nothing to do (run status: ${run.status}); mlops predict --as-of ${run.options.asOf} scores that day again`,
      );
      return undefined;
    }
    ctx.log.info(`rekick ${ctx.runId}: predict as_of ${run.options.asOf}`);
    return { predict: await runPredict(ctx) };
  }
  const ended = (name: StepName) => ['succeeded', 'skipped'].includes(run.steps.find((s) => s.name === name)?.status ?? '');
  const unfinished = ['failed', 'running'].includes(run.status);
  const start = from ?? (unfinished ? stepNames.find((name) => !ended(name)) : undefined);
  if (!start && unfinished) {
    // Killed after its last step, before its ledger said how it ended.
    ctx.log.info(`rekick ${ctx.runId}: every step ended; concluding the run`);
    return concluded(ctx, await Ledger.open(ctx, run.options));
  }
  if (!start) {
    ctx.log.info(`rekick ${ctx.runId}: nothing to do (run status: ${run.status}); rekick --from <step> runs steps again`);
    return undefined;
  }
  ctx.log.info(`rekick ${ctx.runId} from ${start}`);
  return runPipeline(ctx, { from: start });
}
