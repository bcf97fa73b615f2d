import { join } from 'node:path';
import { stepDir, type StepContext } from '../context.js';
import type { EvaluateOutputs } from '../evaluate/evaluate.js';
import type { Decision } from '../gate/gate.js';
import { openRegistry, type VersionManifest } from './folder.js';

export interface RecordOutputs {
  version: string;
  /** The version became the champion. */
  promoted: boolean;
  manifest: VersionManifest;
}

/**
 * Step 8 for a blessed model: store the model, its preprocessing, model card, evaluation and gate
 * decision as a new immutable registry version, and make it the champion.
 */
export async function record(ctx: StepContext, evaluation: EvaluateOutputs, decision: Decision): Promise<RecordOutputs> {
  const model = join(stepDir(ctx, 'train'), 'model');
  const files = [
    ...['model.json', 'weights.bin', 'preprocess.json', 'metadata.json'].map((f) => join(model, f)),
    join(stepDir(ctx, 'evaluate'), 'evaluation.json'),
    join(stepDir(ctx, 'gate'), 'decision.json'),
  ];
  const metrics = Object.fromEntries(Object.entries(evaluation.metrics).filter(([k]) => k !== 'confusion'));
  const registry = openRegistry(ctx.config, ctx.configDir);
  const manifest = await registry.register(files, {
    runId: ctx.runId,
    summary: { metrics, passed: decision.passed, forced: decision.forced, championBefore: decision.championVersion },
  });
  if (decision.blessed) await registry.promote(manifest.version);
  ctx.log.info(`record: registered ${manifest.version}${decision.blessed ? ' as champion' : ''}`);
  return { version: manifest.version, promoted: decision.blessed, manifest };
}
