import * as core from '@actions/core';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createContext, newRunId, type StepContext } from '../context.js';
import { configError, describeError } from '../errors.js';
import { createLogger, logFormat, onRunner } from '../log.js';
import { runStepAlone, type RunOptions, type Step } from '../runs/step.js';
import type { StepName } from '../step-names.js';
import { redact } from '../secrets.js';
import { rekickHint, workflowJob } from '../runs/rekick-hint.js';

/** What one action adds to the shared adapter: its steps, how inputs shape them, what it reports. */
export interface ActionSpec<T> {
  /** Usually one step; a tiny one may follow in the same action (build, then push), in this order. */
  steps: Partial<Record<StepName, Step>>;
  /** Instead of steps, work outside a training run (the monitor): no run ledger; it alerts on its own. */
  task?: (ctx: StepContext) => Promise<T>;
  /** The config the run takes, from the file's and the action's own inputs (hyperparameters); the file's by default. */
  config?: (loaded: LoadedConfig) => Config;
  /** Reads the action's own inputs into the run's options. */
  prepare?: (ctx: StepContext) => RunOptions | Promise<RunOptions>;
  outputs: (out: T, ctx: StepContext) => Record<string, string | number | boolean> | Promise<Record<string, string | number | boolean>>;
  /** The job summary, in markdown. */
  summary: (out: T, ctx: StepContext) => string | Promise<string>;
  /** The job summary of a failed step, from what it wrote before failing (a failed canary's numbers); none by default. */
  failureSummary?: (ctx: StepContext) => Promise<string | undefined>;
  /** A verdict that fails the job once everything is reported: the gate's rejection. */
  failure?: (out: T) => Error | undefined;
  /** Annotations: contract violations, failed gate rules. */
  annotate?: (out: T, ctx: StepContext) => void | Promise<void>;
}

/**
 * A workflow's run id: the same for every job and every re-run attempt of one workflow run, so
 * "Re-run failed jobs" continues the run with the artifacts of the jobs that passed.
 */
const runIdInput = (env: NodeJS.ProcessEnv) => core.getInput('run-id') || (env.GITHUB_RUN_ID ? `gh-${env.GITHUB_RUN_ID}` : newRunId());

/**
 * The whole of an action: read the inputs, run the step as `mlops run` would (ledger, retries,
 * alerts), set the outputs, write the job summary. A failure is one `::error::` line, no stack.
 */
export async function runAction<T>(spec: ActionSpec<T>): Promise<void> {
  let ctx: StepContext | undefined;
  try {
    const env = process.env; // the actions' environment, read here only
    const loaded = await loadConfig(core.getInput('config') || 'mlops.config.yaml', env);
    ctx = createContext(spec.config ? { ...loaded, config: spec.config(loaded) } : loaded, {
      runId: runIdInput(env),
      log: createLogger({ debug: core.isDebug(), format: logFormat(env), annotate: onRunner(env) }),
    });
    core.setOutput('run-id', ctx.runId);
    const options = (await spec.prepare?.(ctx)) ?? {};
    const outs: Record<string, unknown> = {};
    for (const [name, step] of Object.entries(spec.steps)) outs[name] = await runStepAlone(ctx, name as StepName, step, options);
    const names = Object.keys(spec.steps);
    if (!spec.task && outs[names[0]!] === undefined) {
      core.notice(`${names.join(', ')}: nothing to do (the model was not blessed, or deploy.target does not need it)`);
      await core.summary.addRaw(`### ${names.join(', ')}: skipped\n`).write();
      return;
    }
    const out = spec.task ? await spec.task(ctx) : (outs as T);
    for (const [name, value] of Object.entries(await spec.outputs(out, ctx))) core.setOutput(name, value);
    await spec.annotate?.(out, ctx);
    await core.summary.addRaw(await spec.summary(out, ctx)).write();
    const failed = spec.failure?.(out);
    if (failed) core.setFailed(redact(describeError(failed)));
  } catch (err) {
    core.setFailed(redact(describeError(err)));
    // The paths in the error are on this runner, gone once the job ends: say where the files went.
    const [step] = Object.keys(spec.steps);
    if (ctx && step && onRunner(ctx.env))
      core.notice(
        `The run's files are in this workflow run's artifact run-${workflowJob(step)}-failed-attempt-${ctx.env.GITHUB_RUN_ATTEMPT || 1}. To resume: ${rekickHint(ctx, step)}.`,
      );
    const summary = ctx && spec.failureSummary && (await spec.failureSummary(ctx).catch(() => undefined));
    if (summary) await core.summary.addRaw(summary).write();
  }
}

/** A JSON input: `{}` when empty, a config error naming the input when not JSON. */
export function jsonInput(name: string): Record<string, unknown> {
  const text = core.getInput(name) || '{}';
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw configError(`input ${name}: expected a JSON object such as {"epochs": 50}, got ${text}`);
}
