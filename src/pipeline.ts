import type { StepContext } from './context.js';
import { extract, type ExtractOutputs } from './data/extract.js';
import { evaluate, type EvaluateOutputs } from './evaluate/evaluate.js';
import { gate, type Decision } from './gate/gate.js';
import { train, type TrainOutputs } from './model/train.js';
import { record, type RecordOutputs } from './registry/record.js';

export interface PipelineOptions {
  asOf?: string;
  /** Release even if the gate rejects the model; the reason is recorded in the decision. */
  force?: { reason: string };
}

export interface PipelineResult {
  extract: ExtractOutputs;
  train: TrainOutputs;
  evaluate: EvaluateOutputs;
  decision: Decision;
  /** Present when the model was blessed and recorded as the champion. */
  record?: RecordOutputs;
}

/** extract -> train (with preprocess) -> evaluate -> gate -> record, each step reading the one before's artifacts. */
export async function runPipeline(ctx: StepContext, options: PipelineOptions = {}): Promise<PipelineResult> {
  const extracted = await extract(ctx, { asOf: options.asOf });
  const trained = await train(ctx);
  const evaluation = await evaluate(ctx);
  const decision = await gate(ctx, evaluation, options.force);
  const recorded = decision.blessed ? await record(ctx, evaluation, decision) : undefined;
  return { extract: extracted, train: trained, evaluate: evaluation, decision, record: recorded };
}
