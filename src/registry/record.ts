import { join } from 'node:path';
import { readArtifact, writeArtifact } from '../artifacts.js';
import { decisionFile, evaluationFile, recordFile } from '../artifact-files.js';
import { stepDir, type StepContext } from '../context.js';
import { championGuard } from '../gate/champion-guard.js';
import type { RecordOutputs } from '../step-outputs.js';

/**
 * The record step: store a blessed model, its preprocessing, model card, evaluation and gate decision as a
 * new immutable registry version. Without a deploy target it becomes the champion at once. A model
 * the gate rejected is not stored.
 */
export async function record(ctx: StepContext): Promise<RecordOutputs | undefined> {
  const evaluation = await readArtifact(ctx, evaluationFile);
  const decision = await readArtifact(ctx, decisionFile);
  if (!decision.blessed) return undefined;
  const model = join(stepDir(ctx, 'train'), 'model');
  const files = [
    ...['model.json', 'weights.bin', 'preprocess.json', 'metadata.json'].map((f) => join(model, f)),
    join(stepDir(ctx, 'evaluate'), 'evaluation.json'),
    join(stepDir(ctx, 'gate'), 'decision.json'),
  ];
  const metrics = Object.fromEntries(Object.entries(evaluation.metrics).filter(([k]) => k !== 'confusion'));
  const { registry } = ctx;
  const manifest = await registry.register(files, {
    runId: ctx.runId,
    summary: { metrics, passed: decision.passed, forced: decision.forced, championBefore: decision.championVersion },
  });
  // With a deploy target, the version becomes the champion once it serves (deploy promotes it).
  const promoted = ctx.config.deploy.target === 'none';
  if (promoted) await registry.promote(manifest.version, championGuard(ctx, manifest.version));
  ctx.log.info(`record: registered ${manifest.version}${promoted ? ' as champion' : ''}`);
  const result = { version: manifest.version, promoted, manifest };
  await writeArtifact(ctx, recordFile, result);
  return result;
}
