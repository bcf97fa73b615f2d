import { describe, expect, it } from 'vitest';
import { stageSummary } from '../../src/actions/summary.js';
import { parseConfig } from '../../src/config/load.js';
import { judge } from '../../src/deploy/release/verdict.js';
import type { ReleaseComparison } from '../../src/step-outputs.js';

/** The deploy section of a config with `verdict` set, defaults filled in. */
const deployWith = (verdict: Record<string, number> = {}) =>
  parseConfig(
    {
      version: 1,
      project: 'demo',
      data: {
        source: { kind: 'duckdb', query: 'SELECT 1 AS age, 2 AS label' },
        contract: { columns: { age: { type: 'float' }, label: { type: 'label' } } },
      },
      deploy: { release: 'shadow', shadow: { min_requests: 100 }, verdict },
    },
    {},
  ).deploy;

/** A shadow of a regression model: every side healthy, its values `diff` away from the champion's on average. */
const regressionShadow = (diff: number): ReleaseComparison => ({
  mode: 'shadow',
  candidate_url: 'http://127.0.0.1:8101',
  share: 1,
  seconds: 30,
  champion: { requests: 500, errors: 0, p50_ms: 2, p99_ms: 8 },
  candidate: { requests: 500, errors: 0, p50_ms: 2.1, p99_ms: 9 },
  pairs: 500,
  agreement: null,
  mean_abs_diff: diff,
});

const versions = { version: 'v2', champion: 'v1' };

describe("deploy.verdict on a regression model's shadow", () => {
  it('records the mean absolute difference and does not judge it unless max_mean_abs_diff is set (it has no unit-free default)', () => {
    const report = judge(regressionShadow(12.5), deployWith(), versions);
    expect(report).toMatchObject({ passed: true, failures: [], mean_abs_diff: 12.5 });
    expect(report.thresholds.max_mean_abs_diff).toBeUndefined();
  });

  it('fails a shadow whose values stray further from the champion than max_mean_abs_diff, with the numbers', () => {
    const report = judge(regressionShadow(12.5), deployWith({ max_mean_abs_diff: 5 }), versions);
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual([
      'mean absolute difference from the champion 12.5 over 500 predictions is over deploy.verdict.max_mean_abs_diff 5',
    ]);
    expect(judge(regressionShadow(4.9), deployWith({ max_mean_abs_diff: 5 }), versions).passed).toBe(true);
  });

  it('refuses a negative max_mean_abs_diff, naming the key', () => {
    expect(() => deployWith({ max_mean_abs_diff: -1 })).toThrow(/deploy\.verdict\.max_mean_abs_diff/);
  });
});

describe('deploy.verdict on latency', () => {
  const slower = (p99: number) => ({ ...regressionShadow(0), candidate: { requests: 500, errors: 0, p50_ms: 0.1, p99_ms: p99 } });

  it("passes a p99 many times the champion's while it is within latency_slack_ms of it: sub-millisecond ratios are noise", () => {
    expect(
      judge({ ...slower(2.2), champion: { requests: 500, errors: 0, p50_ms: 0.05, p99_ms: 0.12 } }, deployWith(), versions),
    ).toMatchObject({
      passed: true,
      p99_ratio: 18.333,
    });
  });

  it('fails it once it is both over the ratio and more than the slack slower, saying both', () => {
    const report = judge(slower(30), deployWith({ latency_slack_ms: 5 }), versions);
    expect(report.failures).toEqual([
      "p99 latency 30 ms is 3.75x the champion's 8 ms, over deploy.verdict.max_p99_latency_ratio 2 (and more than deploy.verdict.latency_slack_ms 5 ms slower)",
    ]);
  });
});

describe("a stage's job summary", () => {
  it('shows both sides, the measures, a latency chart with the p99 allowed, and each threshold missed', () => {
    const report = judge(
      { ...regressionShadow(0.2), candidate: { requests: 500, errors: 40, p50_ms: 30, p99_ms: 90 } },
      deployWith(),
      versions,
    );
    const summary = stageSummary(report);
    expect(summary).toContain('#### shadow of v2 (share 1, 30 s): fail');
    expect(summary).toContain('| champion v1 | 500 | 0 | 2 ms | 8 ms |');
    expect(summary).toContain('| new v2 | 500 | 40 | 30 ms | 90 ms |');
    expect(summary).toContain('| mean absolute difference | 0.2 |');
    expect(summary).toMatch(/```mermaid\nxychart-beta\n {2}title "latency \(ms\) .*flat line: the p99 allowed, 2x the champion's/);
    expect(summary).toContain('  bar [2, 30, 8, 90]');
    expect(summary).toContain('  line [16, 16, 16, 16]');
    expect(summary).toContain('- error rate 8.0% (40 of 500) is over deploy.verdict.max_error_rate 1.0%');
    expect(summary).toContain("- p99 latency 90 ms is 11.25x the champion's 8 ms, over deploy.verdict.max_p99_latency_ratio 2");
  });
});
