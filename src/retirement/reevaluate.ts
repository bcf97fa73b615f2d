import { join } from 'node:path';
import { writeArtifact } from '../artifacts.js';
import { reevaluationFile } from '../artifact-files.js';
import { createContext, newRunId, stepDir, type StepContext } from '../context.js';
import { extract } from '../data/extract.js';
import { resolveWindow } from '../data/window.js';
import { removeRetiredServers } from '../deploy/retire-servers.js';
import { hasFleet, openFleet } from '../deploy/targets.js';
import { MlopsError } from '../errors.js';
import { decide } from '../gate/gate.js';
import { readSplit } from '../model/dataset.js';
import { readModelCard } from '../model/model-card.js';
import { preferredBackend } from '../model/backend.js';
import { loadPredictor } from '../model/predictor.js';
import { notifyRecovered, sendAlert } from '../notify/notify.js';
import { runPipeline } from '../pipeline.js';
import { retire, retiredAmong } from './retirement.js';
import { ruleText } from '../report.js';
import { score } from '../evaluate/evaluate.js';
import { dispatchWorkflow } from './retrain.js';
import type { ReevaluateOutputs, RuleResult, Verdict } from '../step-outputs.js';

const DAY = 86_400_000;

/** The versions in production: the champion, and every version a running server serves. */
async function production(ctx: StepContext): Promise<string[]> {
  const { registry } = ctx;
  const champion = await registry.resolve('champion');
  const serving = hasFleet(ctx) ? (await (await openFleet(ctx)).list()).filter((s) => s.running) : [];
  const versions = [...new Set([...(champion ? [champion] : []), ...serving.map((s) => s.version)])];
  const retired = await retiredAmong(registry, versions);
  return versions.filter((v) => !retired.has(v));
}

/** Scores a version on the rows from the end of its training window to `asOf`, with the gate's value thresholds. */
async function judge(ctx: StepContext, version: string, asOf: string): Promise<Verdict> {
  const { dir } = await ctx.registry.open(version);
  const { lineage } = await readModelCard(dir);
  const days = Math.round((Date.parse(asOf) - Date.parse(lineage.asOf)) / DAY);
  if (days < 1) return { version, skipped: `no days after its training window (as_of ${lineage.asOf}) yet` };
  // Each version's extract goes in a folder of its own below the run's.
  const own = { ...ctx, runDir: join(ctx.runDir, version) };
  const fresh = await extract(own, { asOf, days }).catch((err: unknown) => {
    if (err instanceof MlopsError && err.errorClass === 'data' && err.code === 'no_rows') return undefined;
    throw err;
  });
  const window = resolveWindow(asOf, days);
  const { min_rows } = ctx.config.retirement;
  if (!fresh || fresh.rows.clean < min_rows)
    return {
      version,
      window,
      rows: fresh?.rows.clean ?? 0,
      skipped: `${fresh?.rows.clean ?? 0} fresh labelled rows, fewer than retirement.min_rows (${min_rows})`,
    };

  const predictor = await loadPredictor(dir, preferredBackend(ctx.env));
  const sliceColumn = ctx.config.gates?.slice_column;
  const columns = [...predictor.spec.features.map((f) => f.name), ...(sliceColumn ? [sliceColumn] : [])].filter((c) => c in fresh.schema);
  const data = await readSplit(stepDir(own, 'extract'), fresh, ['train', 'validation', 'test'], columns);
  const evaluation = score(predictor, data, sliceColumn);
  predictor.dispose();
  // No champion: a model is judged against the thresholds alone, as a first model is.
  const decision = decide(ctx.config.gates, { rows: data.rows, sliceColumn, ...evaluation });
  return { version, window, rows: data.rows, metrics: evaluation.metrics, rules: decision.rules };
}

const failed = (rules: RuleResult[]) => rules.filter((r) => !r.passed).map(ruleText);

/**
 * `mlops reevaluate`: the production versions on fresh labelled data from the warehouse, the days
 * after each one's training window up to `asOf`, against the gate's value thresholds; and each
 * one's age against `retirement.max_age_days`. A version that fails either is retired in the
 * registry with the reason, its servers are taken away (never the last healthy one), the alert
 * sinks are told, and a new model is trained when `retrain` is on (default `retirement.retrain`).
 */
export async function reevaluate(
  ctx: StepContext,
  options: { asOf?: string; now?: Date; retrain?: boolean } = {},
): Promise<ReevaluateOutputs> {
  const now = options.now ?? new Date();
  const asOf = resolveWindow(options.asOf ?? ctx.config.data.window.as_of, 1, now).asOf;
  const { registry } = ctx;
  const { max_age_days } = ctx.config.retirement;
  const retrain = options.retrain ?? ctx.config.retirement.retrain;
  const verdicts: Verdict[] = [];
  for (const version of await production(ctx)) {
    const manifest = await registry.manifest(version);
    const age = (now.getTime() - Date.parse(manifest.createdAt)) / DAY;
    const tooOld = age > max_age_days;
    const verdict: Verdict = tooOld ? { version, skipped: 'past its age limit' } : await judge(ctx, version, asOf);
    const failures = failed(verdict.rules ?? []);
    const reason = tooOld
      ? `registered ${age.toFixed(1)} days ago, past retirement.max_age_days (${max_age_days})`
      : failures.length
        ? `on ${verdict.rows} fresh rows (${verdict.window!.windowStart} to ${verdict.window!.asOf}): ${failures.join(', ')}`
        : undefined;
    if (reason) verdict.retired = await retire(registry, version, reason, now);
    ctx.log.info(
      `reevaluate: ${version} ${verdict.retired ? `retired, ${reason}` : verdict.skipped ? `not judged: ${verdict.skipped}` : 'still fit'}`,
    );
    verdicts.push(verdict);
  }

  const retired = verdicts.filter((v) => v.retired);
  const result: ReevaluateOutputs = { asOf, verdicts };
  if (retired.length) {
    result.servers = await removeRetiredServers(ctx);
    if (retrain) result.retrain = await retrainNow(ctx);
    await sendAlert(ctx, {
      runId: ctx.runId,
      step: 'reevaluate',
      errorClass: 'quality',
      title: `mlops: ${retired.map((v) => v.version).join(', ')} retired`,
      message: retired.map((v) => `${v.version} retired: ${v.retired!.reason}`).join('\n'),
      rekick: 'mlops reevaluate',
      advice: [
        result.servers.replacedBy ? `${result.servers.replacedBy.version} now serves in its place.` : '',
        result.servers.kept.length
          ? `Nothing else could serve, so ${result.servers.kept.join(', ')} keeps serving until a new model is released.`
          : '',
        result.retrain ? `Retraining: ${result.retrain}.` : 'Train a new model: run the train workflow, or `mlops run`.',
      ].filter(Boolean),
    });
  } else await notifyRecovered(ctx, ['reevaluate']);
  await writeArtifact(ctx, reevaluationFile, result);
  return result;
}

/** Trains a replacement: through the train workflow in GitHub Actions, else right here with `mlops run`'s pipeline. */
async function retrainNow(ctx: StepContext): Promise<string> {
  if (ctx.env.GITHUB_ACTIONS) return dispatchWorkflow(ctx, ctx.config.retirement.workflow);
  const run = createContext(
    { config: ctx.config, dir: ctx.configDir, file: ctx.configFile, env: ctx.env },
    { runId: newRunId(), log: ctx.log, progress: ctx.progress, registry: ctx.registry },
  );
  // A retirement asks for a new model, whatever the champion was trained on.
  const outcome = await runPipeline(run, { retrain: true }).then(
    (r) =>
      'unchanged' in r
        ? `trained nothing (${r.unchanged})`
        : r.decision.blessed
          ? `blessed${r.deploy ? `, ${r.deploy.version} deployed` : ''}`
          : 'rejected by the gate',
    (err: unknown) => `failed: ${(err as Error).message}`,
  );
  return `run ${run.runId} ${outcome}`;
}
