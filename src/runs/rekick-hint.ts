import type { StepContext } from '../context.js';
import { onRunner } from '../log.js';

/** The train workflow's job that runs a step: one job per step, but push runs in build's job. */
export const workflowJob = (step: string): string => (step === 'push' ? 'build' : step);

/**
 * How to resume a run at a step. On a GitHub runner the run's files live in this workflow run's
 * artifacts, not on a machine the user has: the train workflow's dispatch inputs resume it there.
 */
export const rekickHint = (ctx: Pick<StepContext, 'env' | 'runId'>, step: string): string => {
  // A batch is one step: its run is resumed whole, on a runner by its own workflow run again.
  if (step === 'predict') return onRunner(ctx.env) ? 'choose Re-run failed jobs on this run' : `mlops rekick ${ctx.runId}`;
  return onRunner(ctx.env)
    ? `run the train workflow with rekick_run_id=${ctx.env.GITHUB_RUN_ID} and from_step=${workflowJob(step)}, or choose Re-run failed jobs on this run`
    : `mlops rekick ${ctx.runId} --from ${step}`;
};
