import { readArtifact } from './artifacts.js';
import type { StepContext } from './context.js';
import { extract, type ExtractOutputs } from './data/extract.js';
import { configError } from './errors.js';
import { evaluate, type EvaluateOutputs } from './evaluate/evaluate.js';
import { gate, rejection, type Decision } from './gate/gate.js';
import { train, type TrainOutputs } from './model/train.js';
import { alertFor, notifyFailure } from './notify/notify.js';
import { deploy, type DeployOutputs } from './deploy/rollout.js';
import { buildImage, type BuildOutputs } from './image/build.js';
import { pushImage, type PushOutputs } from './image/push.js';
import { record, type RecordOutputs } from './registry/record.js';
import { Ledger, type RunRecord } from './runs/ledger.js';
import { withRetry } from './runs/retry.js';

export const stepNames = ['extract', 'train', 'evaluate', 'gate', 'record', 'build', 'push', 'deploy'] as const;
export type StepName = (typeof stepNames)[number];

export type RunOptions = RunRecord['options'];
export type Step = (ctx: StepContext, options: RunOptions) => Promise<unknown>;

/** The pipeline's steps; each reads the artifacts of the ones before it, so any can be rerun alone. */
export const steps: Record<StepName, Step> = {
  extract: (ctx, o) => extract(ctx, { asOf: o.asOf }),
  train,
  evaluate,
  gate: (ctx, o) => gate(ctx, o.force),
  record,
  build: forContainers((ctx, version) => buildImage(ctx, { version })),
  push: forContainers(pushImage),
  deploy,
};

/** An image step: it works on the version the record step stored, and only containers need one. */
function forContainers(work: (ctx: StepContext, version: string) => Promise<unknown>): Step {
  return async (ctx) => {
    if (ctx.config.deploy.target !== 'docker') return undefined;
    const recorded = await readArtifact<RecordOutputs>(ctx, 'record', 'record.json').catch(() => undefined);
    return recorded && work(ctx, recorded.version);
  };
}

export interface PipelineResult {
  extract: ExtractOutputs;
  train: TrainOutputs;
  evaluate: EvaluateOutputs;
  decision: Decision;
  /** Present when the model was blessed and recorded. */
  record?: RecordOutputs;
  /** Present when the deploy target needed them and the model was blessed. */
  build?: BuildOutputs;
  push?: PushOutputs;
  deploy?: DeployOutputs;
}

export interface PipelineOptions extends RunOptions {
  /** Resume at this step, reusing the artifacts of the steps before it. */
  from?: StepName;
  /** The step functions; tests swap one to inject a failure. */
  steps?: Record<StepName, Step>;
}

/**
 * Runs extract -> train -> evaluate -> gate -> record -> build -> push -> deploy with the pattern's error handling: each step's
 * attempts, duration and error go to the run ledger; transient errors are retried by the `slo`
 * policy; a final failure is sent to every alert sink, with the command that resumes the run.
 */
export async function runPipeline(ctx: StepContext, options: PipelineOptions = {}): Promise<PipelineResult> {
  const ledger = await Ledger.open(ctx, { asOf: options.asOf, force: options.force });
  const run = { ...ledger.run.options, ...definedOnly({ asOf: options.asOf, force: options.force }) };
  const first = stepNames.indexOf(options.from ?? 'extract');
  if (first < 0) throw configError(`--from: expected one of ${stepNames.join(', ')}, got "${options.from}"`);
  for (const name of stepNames.slice(first)) {
    const policy = { ...ctx.config.slo.retry, ...ctx.config.slo.steps[name] };
    try {
      const out = await withRetry(
        async (attempt) => {
          await ledger.attempt(name, attempt);
          return (options.steps ?? steps)[name](ctx, run);
        },
        policy,
        (attempt, err, wait) =>
          ctx.log.warn(
            `${name}: attempt ${attempt} of ${policy.attempts} failed (${err.message}); retrying in ${(wait / 1000).toFixed(1)}s`,
          ),
      );
      await ledger.end(name, out === undefined ? 'skipped' : 'succeeded');
    } catch (err) {
      await ledger.end(name, 'failed', err);
      await ledger.finish('failed');
      await notifyFailure(ctx, alertFor(ctx, name, err));
      throw err;
    }
  }
  const ifSucceeded = async <T>(step: StepName, file: string) =>
    ledger.run.steps.find((s) => s.name === step)?.status === 'succeeded' ? readArtifact<T>(ctx, step, file) : undefined;
  const result: PipelineResult = {
    extract: await readArtifact(ctx, 'extract', 'extract.json'),
    train: await readArtifact(ctx, 'train', 'train.json'),
    evaluate: await readArtifact(ctx, 'evaluate', 'evaluation.json'),
    decision: await readArtifact(ctx, 'gate', 'decision.json'),
    record: await ifSucceeded('record', 'record.json'),
    build: await ifSucceeded('build', 'build.json'),
    push: await ifSucceeded('push', 'push.json'),
    deploy: await ifSucceeded('deploy', 'deploy.json'),
  };
  await ledger.finish(result.decision.blessed ? 'succeeded' : 'rejected');
  if (!result.decision.blessed) await notifyFailure(ctx, alertFor(ctx, 'gate', rejection(result.decision)));
  return result;
}

const definedOnly = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** Resumes a run at `from`, or at the first step that did not succeed, reusing the artifacts before it. */
export async function rekick(ctx: StepContext, from?: StepName): Promise<PipelineResult> {
  const run = await Ledger.existing(ctx);
  const start =
    from ?? (run.steps.find((s) => s.status !== 'succeeded' && s.status !== 'skipped')?.name as StepName | undefined) ?? 'extract';
  ctx.log.info(`rekick ${ctx.runId} from ${start}`);
  return runPipeline(ctx, { from: start });
}
