import type { Config } from '../../config/schema.js';
import { rate } from '../../format.js';
import type { ReleaseComparison, ReleaseReport } from '../../step-outputs.js';
import type { StageEnd } from './staged.js';

/**
 * What deploy.verdict makes of a stage: each threshold missed is a failure with its numbers. A stage
 * with no request to judge fails too: passing a model nobody saw would not be a verdict.
 */
export function judge(
  comparison: ReleaseComparison,
  config: Config['deploy'],
  versions: { version: string; champion: string | null },
): ReleaseReport {
  const { max_error_rate, max_p99_latency_ratio, latency_slack_ms, min_agreement, max_mean_abs_diff } = config.verdict;
  const stage: StageEnd = config[comparison.mode];
  const { candidate, champion } = comparison;
  const failures: string[] = [];
  const errorRate = candidate.requests ? candidate.errors / candidate.requests : null;
  const p99Ratio = candidate.p99_ms !== null && champion.p99_ms ? candidate.p99_ms / champion.p99_ms : null;

  if (comparison.left_rotation)
    failures.push(`the new server dropped out of the proxy's rotation during the stage: ${comparison.left_rotation}`);
  if (!candidate.requests) failures.push(`no prediction request reached the new server in ${comparison.seconds.toFixed(0)} s`);
  else if (!comparison.left_rotation && stage.min_requests !== undefined && candidate.requests < stage.min_requests)
    failures.push(
      `only ${candidate.requests} of deploy.${comparison.mode}.min_requests ${stage.min_requests} requests came within its duration`,
    );
  if (errorRate !== null && errorRate > max_error_rate)
    failures.push(
      `error rate ${rate(errorRate)} (${candidate.errors} of ${candidate.requests}) is over deploy.verdict.max_error_rate ${rate(max_error_rate)}`,
    );
  if (p99Ratio !== null && p99Ratio > max_p99_latency_ratio && candidate.p99_ms! - champion.p99_ms! > latency_slack_ms)
    failures.push(
      `p99 latency ${candidate.p99_ms} ms is ${p99Ratio.toFixed(2)}x the champion's ${champion.p99_ms} ms, over deploy.verdict.max_p99_latency_ratio ${max_p99_latency_ratio} (and more than deploy.verdict.latency_slack_ms ${latency_slack_ms} ms slower)`,
    );
  if (comparison.agreement !== null && comparison.agreement < min_agreement)
    failures.push(
      `agreement with the champion ${rate(comparison.agreement)} over ${comparison.pairs} predictions is under deploy.verdict.min_agreement ${rate(min_agreement)}`,
    );
  if (comparison.mean_abs_diff !== null && max_mean_abs_diff !== undefined && comparison.mean_abs_diff > max_mean_abs_diff)
    failures.push(
      `mean absolute difference from the champion ${comparison.mean_abs_diff} over ${comparison.pairs} predictions is over deploy.verdict.max_mean_abs_diff ${max_mean_abs_diff}`,
    );
  return {
    ...comparison,
    version: versions.version,
    champion_version: versions.champion,
    error_rate: errorRate,
    p99_ratio: p99Ratio === null ? null : Math.round(p99Ratio * 1000) / 1000,
    thresholds: config.verdict,
    passed: failures.length === 0,
    failures,
  };
}

/** The report as registry tags on the version: what was measured and decided, for `mlops models show`. */
export function releaseTags(r: ReleaseReport): Record<string, string> {
  const tags: Record<string, string> = {
    release_mode: r.mode,
    release_verdict: r.passed ? 'pass' : 'fail',
    release_requests: String(r.candidate.requests),
    release_errors: String(r.candidate.errors),
  };
  if (r.error_rate !== null) tags.release_error_rate = String(Math.round(r.error_rate * 10_000) / 10_000);
  if (r.p99_ratio !== null) tags.release_p99_ratio = String(r.p99_ratio);
  if (r.agreement !== null) tags.release_agreement = String(r.agreement);
  if (r.mean_abs_diff !== null) tags.release_mean_abs_diff = String(r.mean_abs_diff);
  return tags;
}
