import type { StepContext } from '../context.js';
import { resolveWindow } from '../data/window.js';
import { notifyRecovered } from '../notify/notify.js';
import { Ledger } from '../runs/ledger.js';
import { definedOnly, runStep } from '../runs/step.js';
import type { PredictOutputs } from '../step-outputs.js';
import { predictBatch, predictSettings, type PredictInputs } from './predict.js';

/**
 * A batch scoring run, as the CLI, the action and a rekick run it: one step, `predict`, with the
 * pattern's ledger (a run of kind predict), retries by slo.steps.predict, and alerts when it finally
 * fails; a batch that succeeds closes the open alerts of its step.
 */
export async function runPredict(ctx: StepContext, inputs: PredictInputs = {}): Promise<PredictOutputs> {
  const asked = definedOnly({ asOf: inputs.asOf, version: inputs.version });
  // The day is recorded resolved, so a rekick tomorrow scores the same day, not "today".
  const today = resolveWindow(predictSettings(ctx).as_of, 1).asOf;
  const ledger = await Ledger.open(ctx, { asOf: today, ...asked }, 'predict');
  const run = { ...ledger.run.options, ...asked };
  const out = (await runStep(ctx, ledger, 'predict', (c) => predictBatch(c, { ...inputs, ...run }), run)) as PredictOutputs;
  await ledger.finish('succeeded');
  await notifyRecovered(ctx, ['predict']);
  return out;
}
