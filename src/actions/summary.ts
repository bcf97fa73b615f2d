import { count, measure, rate } from '../format.js';
import type { ContractReport, ExtractOutputs } from '../step-outputs.js';
import type { Importance } from '../model/card-fields.js';
import type { SearchRecord } from '../model/search.js';
import type { EpochLog } from '../model/train.js';
import { thresholdText } from '../model/threshold.js';
import {
  bootstrapText,
  byStatus,
  candidateThreshold,
  percent,
  ruleName,
  ruleStatus,
  scoredModels,
  skippedBaselines,
  skippedText,
  trainedText,
  verdict,
  windowText,
} from '../report.js';
import type {
  BuildOutputs,
  Decision,
  DeployOutputs,
  EvaluateOutputs,
  PushOutputs,
  ReleaseReport,
  StabilitySummary,
  TrainOutputs,
} from '../step-outputs.js';

/**
 * Job summaries in GitHub-flavoured markdown, one per step, from the step's artifacts. Pure
 * functions: the actions write them with `core.summary`, the tests read them as text.
 */

export const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** A mermaid `xychart-beta` (GitHub renders it): bars or a line of values, and the threshold, if any, as a flat line. */
export function chart(title: string, x: string[], kind: 'bar' | 'line', values: number[], threshold?: number): string {
  const series = (vs: number[]) => `[${vs.map((v) => Number(v.toPrecision(4))).join(', ')}]`;
  return [
    '```mermaid',
    'xychart-beta',
    `  title "${title}${threshold === undefined ? '' : ` (flat line: threshold ${threshold})`}"`,
    `  x-axis [${x.map((l) => JSON.stringify(l)).join(', ')}]`,
    `  ${kind} ${series(values)}`,
    ...(threshold === undefined ? [] : [`  line ${series(x.map(() => threshold))}`]),
    '```',
  ].join('\n');
}

/** Permutation importance: a bar per column, most relied on first, and the table with each one's spread. */
function importanceSection({ metric, score, rows, repeats, columns }: Importance): string {
  return [
    `**What the model relies on**: the drop in ${metric} (${measure(score)} unshuffled) when a column is shuffled, mean of ${repeats} seeded shuffles on ${count(rows)} test rows.`,
    chart(
      `${metric} drop when the column is shuffled`,
      columns.map((c) => c.column),
      'bar',
      columns.map((c) => c.drop),
    ),
    table(
      ['column', `${metric} drop`, 'std'],
      columns.map((c) => [c.column, measure(c.drop), measure(c.std)]),
    ),
  ].join('\n\n');
}

export function extractSummary(out: ExtractOutputs, contract: ContractReport): string {
  const reasons = Object.entries(contract.rules).slice(0, 10);
  return [
    `### extract: ${count(out.rows.read)} rows, ${count(out.rows.quarantined)} quarantined`,
    `Window ${windowText(out)} from ${out.source}; data hash \`${out.dataHash.slice(0, 12)}\`.`,
    table(
      ['rows', 'count'],
      [
        ['read', count(out.rows.read)],
        ['clean', count(out.rows.clean)],
        [
          'quarantined',
          `${count(out.rows.quarantined)} (${(contract.rows.quarantinedShare * 100).toFixed(2)}%, limit ${contract.maxQuarantineRatio * 100}%)`,
        ],
        ...Object.entries(out.split).map(([k, v]) => [k, count(v)]),
      ],
    ),
    reasons.length
      ? `**Top quarantine reasons**\n\n${table(
          ['column:rule', 'rows'],
          reasons.map(([k, v]) => [`\`${k}\``, count(v)]),
        )}`
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** The learning curve as a mermaid `xychart-beta`, which GitHub renders; with model.search, its trials first. */
export function trainSummary(out: TrainOutputs, history: EpochLog[], search?: SearchRecord): string {
  const series = (key: 'loss' | 'valLoss') => `[${history.map((h) => h[key].toFixed(4)).join(', ')}]`;
  return [
    `### train: ${trainedText(out)}`,
    `Validation loss ${out.valLoss.toFixed(4)}; ${count(out.samplesPerSecond)} samples/s.`,
    ...(search ? [searchTable(search)] : []),
    ...(out.stability ? [stabilityTable(out.stability)] : []),
    ...(out.threshold ? [`The ${thresholdText(out.threshold)}.`] : []),
    [
      '```mermaid',
      'xychart-beta',
      '  title "loss (upper line: train, lower: validation, per epoch)"',
      `  x-axis [${history.map((h) => h.epoch).join(', ')}]`,
      '  y-axis "loss"',
      `  line ${series('loss')}`,
      `  line ${series('valLoss')}`,
      '```',
    ].join('\n'),
  ].join('\n\n');
}

/** model.stability: the spread of each gated metric over the seeds (scored on the validation split), and the seed released. */
function stabilityTable({ seeds, seed, by, spread }: StabilitySummary): string {
  return [
    `**Stability over ${seeds.length} seeds** (${seeds.join(', ')}): released seed ${seed}, the closest to the median ${by}.`,
    table(
      ['metric', 'mean', 'std', 'min', 'max'],
      Object.entries(spread).map(([m, s]) => [m, measure(s.mean), measure(s.std), measure(s.min), measure(s.max)]),
    ),
  ].join('\n\n');
}

/** model.search: every trial's settings and validation scores, the one released and any passed over, and a chart of the ranking metric. */
function searchTable(search: SearchRecord): string {
  const keys = [...new Set(search.trials.flatMap((t) => Object.keys(t.params)))] as (keyof SearchRecord['trials'][number]['params'])[];
  const scoreOf = (t: SearchRecord['trials'][number]) => (search.by === 'val_loss' ? t.valLoss : t.metrics?.[search.by]);
  const outcome = (t: SearchRecord['trials'][number]) =>
    t.trial === search.released ? '**released**' : t.failed ? `failed: ${t.failed}` : t.unstable ? `passed over: ${t.unstable}` : '–';
  const scored = search.trials.filter((t) => Number.isFinite(scoreOf(t)));
  const passedOver = search.trials.filter((t) => t.unstable).map((t) => t.trial);
  return [
    `**Search over ${search.trials.length} trials** (budget ${search.budget.trials} trials, ${search.budget.minutes} min; draws seeded by ${search.seed}), each scored on ${count(search.rows)} ${search.split} rows and ranked by ${search.by === 'val_loss' ? 'validation loss' : `${search.by}, then validation loss`}: released trial ${search.released}${passedOver.length ? `, after passing over trial ${passedOver.join(', ')} as unstable across seeds` : ''}.${search.stopped ? ` Stopped early: ${search.stopped}.` : ''}`,
    table(
      ['trial', ...keys, search.by, 'val_loss', 'epochs', 'seconds', 'outcome'],
      search.trials.map((t) => [
        String(t.trial),
        ...keys.map((k) => {
          const v = t.params[k];
          return v === undefined ? '–' : Array.isArray(v) ? `[${v.join(', ')}]` : String(v);
        }),
        measure(scoreOf(t), '–'),
        measure(t.valLoss, '–'),
        measure(t.epochs, '–'),
        t.seconds.toFixed(1),
        outcome(t),
      ]),
    ),
    chart(
      `${search.by} on the ${search.split} split per trial`,
      scored.map((t) => (t.trial === search.released ? `${t.trial} released` : String(t.trial))),
      'bar',
      scored.map((t) => scoreOf(t)!),
    ),
  ].join('\n\n');
}

export function evaluateSummary(out: EvaluateOutputs, classes: string[]): string {
  const models = scoredModels(out);
  const parts = [
    `### evaluate: ${count(out.rows)} test rows${out.champion ? `, against champion ${out.champion.version}` : ''}`,
    table(
      ['metric', ...models.map(([name]) => name)],
      Object.keys(out.metrics)
        .filter((k) => k !== 'confusion')
        .map((k) => [k, ...models.map(([, m]) => measure(m?.[k], '–'))]),
    ),
    ...skippedBaselines(out).map((s) => `The ${s}.`),
    ...(out.threshold !== undefined ? [`${candidateThreshold(out.threshold)}.`] : []),
  ];
  if (out.championSkipped) parts.push(`The champion was not compared: ${skippedText(out.championSkipped)}.`);
  if (out.importance) parts.push(importanceSection(out.importance));
  const confusion = (out.metrics as { confusion?: number[][] }).confusion;
  if (confusion) {
    const names = confusion.map((_, i) => classes[i] ?? String(i));
    parts.push(
      `**Confusion matrix** (rows: true class, columns: predicted)\n\n${table(
        ['', ...names],
        confusion.map((row, i) => [`**${names[i]}**`, ...row.map(count)]),
      )}`,
    );
  }
  return parts.join('\n\n');
}

export function gateSummary(decision: Decision): string {
  return [
    `### gate: ${verdict(decision)}`,
    ...(decision.note ? [decision.note] : []),
    ...(decision.bootstrap ? [`${bootstrapText(decision.bootstrap)}.`] : []),
    table(
      ['', 'metric', 'scope', 'rule', 'value', 'bound', 'champion or baseline', 'interval', 'held', 'test rows', 'why'],
      byStatus(decision.rules).map((r) => [
        { fail: '❌', 'not judged': '➖', pass: '✅' }[ruleStatus(r)],
        r.metric,
        r.scope,
        ruleName(r),
        r.notJudged ? `not judged: ${r.notJudged}` : measure(r.value, '–'),
        measure(r.bound, '–'),
        r.baseline ? `${r.baseline.name} ${measure(r.baseline.value)}` : measure(r.champion, '–'),
        r.interval ? `[${measure(r.interval.low)}, ${measure(r.interval.high)}] (${percent(r.interval.confidence)})` : '–',
        measure(r.interval?.held, '–'),
        r.rows === undefined ? '–' : count(r.rows),
        r.undecided ? `**${r.undecided}**` : '–',
      ]),
    ),
  ].join('\n\n');
}

export function releaseSummary(build?: BuildOutputs, push?: PushOutputs, deploy?: DeployOutputs): string {
  const rows: string[][] = [];
  if (build) rows.push(['image', `\`${build.image}\` (${Math.round(build.sizeBytes / 2 ** 20)} MiB on \`${build.base}\`)`]);
  if (push) rows.push(['digest', `\`${push.reference}\``]);
  if (deploy) {
    rows.push(['deployed', `${deploy.version} via ${deploy.server.id} (${deploy.target}), rollout ${deploy.seconds.toFixed(1)} s`]);
    rows.push(['serves on', deploy.proxy], ['stopped', deploy.stopped.join(', ') || 'none']);
  }
  if (!rows.length) return '### release: nothing to do for this deploy target';
  return [`### release\n\n${table(['', ''], rows)}`, ...(deploy?.release ? [stageSummary(deploy.release)] : [])].join('\n\n');
}

const ms = (v: number | null) => (v === null ? '–' : `${v} ms`);

/** A shadow or canary stage: the new server beside the champion, and the verdict with each threshold missed. */
export function stageSummary(r: ReleaseReport): string {
  const side = (name: string, s: ReleaseReport['champion']) => [name, String(s.requests), String(s.errors), ms(s.p50_ms), ms(s.p99_ms)];
  return [
    `#### ${r.mode} of ${r.version} (share ${r.share}, ${r.seconds.toFixed(0)} s): ${r.passed ? 'pass' : 'fail'}`,
    table(
      ['server', 'requests', 'errors', 'p50', 'p99'],
      [side(`champion ${r.champion_version ?? ''}`.trim(), r.champion), side(`new ${r.version}`, r.candidate)],
    ),
    table(
      ['measure', 'value'],
      [
        ['error rate', rate(r.error_rate)],
        ['p99 ratio to the champion', r.p99_ratio === null ? '–' : `${r.p99_ratio}x`],
        ['agreement', r.agreement === null ? '– (not measured)' : `${rate(r.agreement)} of ${r.pairs}`],
        ...(r.mean_abs_diff === null ? [] : [['mean absolute difference', String(r.mean_abs_diff)]]),
      ],
    ),
    chart(
      `latency (ms) of the champion and the new server; flat line: the p99 allowed, ${r.thresholds.max_p99_latency_ratio}x the champion's`,
      ['champion p50', 'new p50', 'champion p99', 'new p99'],
      'bar',
      [r.champion.p50_ms, r.candidate.p50_ms, r.champion.p99_ms, r.candidate.p99_ms].map((v) => v ?? 0),
      (r.champion.p99_ms ?? 0) * r.thresholds.max_p99_latency_ratio,
    ),
    ...r.failures.map((f) => `- ${f}`),
  ].join('\n\n');
}
