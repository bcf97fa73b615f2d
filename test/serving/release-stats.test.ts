import { describe, expect, it } from 'vitest';
import { Release, WARMUP_REQUESTS } from '../../serving/release.js';

const spec = { mode: 'canary' as const, url: 'http://127.0.0.1:8101', share: 0.25 };

describe("a staged release's numbers in the proxy", () => {
  it('gives p50 and p99 within 1% above the exact ones, from 0.05 ms to 30 s', () => {
    const release = new Release(spec);
    // 10,000 latencies spread over six orders of magnitude, in a shuffled order.
    const values = Array.from({ length: 10_000 }, (_, i) => 0.05 * Math.pow(600_000, ((i * 7919) % 10_000) / 9_999));
    for (const ms of values) release.champion.observe(true, ms);
    const sorted = [...values].sort((a, b) => a - b);
    const { p50_ms, p99_ms } = release.report().champion;
    for (const [got, exact] of [
      [p50_ms!, sorted[4_999]!],
      [p99_ms!, sorted[9_899]!],
    ] as const) {
      expect(got / exact).toBeGreaterThanOrEqual(0.999);
      expect(got / exact).toBeLessThanOrEqual(1.011);
    }
  });

  it("counts a new server's first answers for errors but not latency, and every failure as an error", () => {
    const release = new Release(spec);
    for (let i = 0; i < WARMUP_REQUESTS; i++) release.candidate.observe(i !== 3, 500);
    expect(release.report().candidate).toEqual({ requests: WARMUP_REQUESTS, errors: 1, p50_ms: null, p99_ms: null });
    for (let i = 0; i < 100; i++) release.candidate.observe(true, 2);
    release.candidate.observe(false, 9_000);
    const side = release.report().candidate;
    expect(side).toMatchObject({ requests: WARMUP_REQUESTS + 101, errors: 2 });
    expect(side.p99_ms).toBeCloseTo(2, 1);
  });

  it('sends a canary exactly its share of requests, evenly spread', () => {
    const release = new Release(spec);
    const taken = Array.from({ length: 100 }, () => release.take());
    expect(taken.filter(Boolean)).toHaveLength(25);
    expect(taken.slice(0, 8)).toEqual([false, false, false, true, false, false, false, true]);
  });
});
