import { readArtifact, writeArtifact } from '../artifacts.js';
import { decisionFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { MlopsError } from '../errors.js';
import { evaluateAgainst } from '../evaluate/evaluate.js';
import type { PromotionGuard } from '../registry/registry.js';
import { decide, rejection } from './gate.js';

/**
 * The guard of a run's promotion: the gate judged the candidate against the champion of its time,
 * and with two runs on one registry another may have promoted since. Inside the registry's lock, a
 * champion that changed means the candidate is judged again against the one it would replace
 * (`gates.on_champion_change: regate`), or the run stops naming both (`stop`).
 */
export function championGuard(ctx: StepContext, candidate: string): PromotionGuard {
  return async (champion) => {
    const decision = await readArtifact(ctx, decisionFile);
    if (!champion || champion.version === decision.championVersion) return;
    const judged = decision.championVersion ? `against ${decision.championVersion}` : 'with no champion to compare with';
    const changed = `the champion is now ${champion.version}, and the gate judged ${candidate} ${judged}`;
    if (ctx.config.gates?.on_champion_change === 'stop')
      throw new MlopsError('quality', `${changed}: another run promoted it meanwhile`, {
        hint: `${champion.version} stays the champion; rerun to judge against it, or set gates.on_champion_change: regate`,
      });
    ctx.log.info(`gate: ${changed}; judging it again against ${champion.version}`);
    const { evaluation, predictions } = await evaluateAgainst(ctx, champion);
    const again = decide(ctx.config.gates, evaluation, { force: decision.forced, predictions });
    await writeArtifact(ctx, decisionFile, again);
    if (!again.blessed) {
      const err = rejection(again);
      throw new MlopsError('quality', `${err.message} (judged again against ${champion.version}, promoted after this run's gate)`, {
        hint: `${champion.version} stays the champion; see gate/decision.json`,
      });
    }
  };
}
