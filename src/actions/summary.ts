import { count, measure } from '../format.js';
import type { ContractReport, ExtractOutputs } from '../data/extract.js';
import type { EpochLog } from '../model/train.js';
import { byStatus, ruleStatus, verdict } from '../report.js';
import type { BuildOutputs, Decision, DeployOutputs, EvaluateOutputs, PushOutputs, TrainOutputs } from '../step-outputs.js';

/**
 * Job summaries in GitHub-flavoured markdown, one per step, from the step's artifacts. Pure
 * functions: the actions write them with `core.summary`, the tests read them as text.
 */

export const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export function extractSummary(out: ExtractOutputs, contract: ContractReport): string {
  const reasons = Object.entries(contract.rules).slice(0, 10);
  return [
    `### extract: ${count(out.rows.read)} rows, ${count(out.rows.quarantined)} quarantined`,
    `Window ${out.window.windowStart} to ${out.window.asOf} from ${out.source}; data hash \`${out.dataHash.slice(0, 12)}\`.`,
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

/** The learning curve as a mermaid `xychart-beta`, which GitHub renders. */
export function trainSummary(out: TrainOutputs, history: EpochLog[]): string {
  const series = (key: 'loss' | 'valLoss') => `[${history.map((h) => h[key].toFixed(4)).join(', ')}]`;
  return [
    `### train: ${out.epochs} epochs on ${out.backend}, best epoch ${out.bestEpoch}`,
    `Validation loss ${out.valLoss.toFixed(4)}; ${count(out.samplesPerSecond)} samples/s.`,
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

export function evaluateSummary(out: EvaluateOutputs, classes: string[]): string {
  const candidate = Object.entries(out.metrics).filter(([k]) => k !== 'confusion');
  const champion = out.champion?.metrics as unknown as Record<string, unknown> | undefined;
  const parts = [
    `### evaluate: ${count(out.rows)} test rows${out.champion ? `, against champion ${out.champion.version}` : ''}`,
    table(
      ['metric', 'candidate', `champion${out.champion ? ` ${out.champion.version}` : ''}`],
      candidate.map(([k, v]) => [k, measure(v, '–'), measure(champion?.[k], '–')]),
    ),
  ];
  if (out.championSkipped) parts.push(`The champion was not compared: ${out.championSkipped}.`);
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
    table(
      ['', 'metric', 'scope', 'rule', 'value', 'bound', 'champion'],
      byStatus(decision.rules).map((r) => [
        { fail: '❌', 'not judged': '➖', pass: '✅' }[ruleStatus(r)],
        r.metric,
        r.scope,
        r.rule,
        r.notJudged ? `not judged: ${r.notJudged}` : measure(r.value, '–'),
        measure(r.bound, '–'),
        measure(r.champion, '–'),
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
  return rows.length ? `### release\n\n${table(['', ''], rows)}` : '### release: nothing to do for this deploy target';
}
