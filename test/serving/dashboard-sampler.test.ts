import { describe, expect, it } from 'vitest';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { BackendPool } from '../../serving/backends.js';
import { parseDrift, type DriftPoint } from '../../serving/dashboard/drift.js';
import { Ring } from '../../serving/dashboard/ring.js';
import { Sampler, type SampleSource } from '../../serving/dashboard/sampler.js';
import { quantile, readCounters, trafficBetween, type CounterSnapshot, type Counters } from '../../serving/dashboard/traffic.js';
import { createProxyMetrics } from '../../serving/proxy-metrics.js';

const BOUNDS = [0.001, 0.01, 0.1];

/** A snapshot as the proxy's counters would give it, `seconds` after the epoch. */
const snapshot = (seconds: number, ...counters: Counters[]): CounterSnapshot => ({
  at: seconds * 1000,
  bounds: BOUNDS,
  counters: new Map(counters.map((c) => [`${c.backend}\u0000${c.version}`, c])),
});
const counters = (backend: string, version: string, requests: number, errors = 0, buckets = [0, 0, 0]): Counters => ({
  backend,
  version,
  requests,
  errors,
  buckets,
  latencyCount: buckets.at(-1)!,
});

describe('the ring that holds the history', () => {
  it('keeps the last `capacity` items, oldest first', () => {
    const ring = new Ring<number>(3);
    expect(ring.toArray()).toEqual([]);
    for (const n of [1, 2]) ring.push(n);
    expect(ring.toArray()).toEqual([1, 2]);
    for (const n of [3, 4, 5]) ring.push(n);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.length).toBe(3);
  });

  it('refuses a capacity it could not hold', () => {
    expect(() => new Ring(0)).toThrow('a ring holds at least 1 item, got 0');
    expect(() => new Ring(1.5)).toThrow(RangeError);
  });
});

describe('traffic between two readings of the proxy counters', () => {
  it('is the request rate, the 5xx share and the latency percentiles of just that interval', () => {
    const before = snapshot(100, counters('a', 'v1', 1000, 10, [100, 900, 1000]));
    // 50 requests in 5 s, 5 of them failed; 40 answered within 1 ms, 10 between 1 and 10 ms.
    const after = snapshot(105, counters('a', 'v1', 1050, 15, [140, 950, 1050]));
    const [a] = trafficBetween(before, after);
    expect(a).toMatchObject({ backend: 'a', version: 'v1', rps: 10, errorRate: 0.1 });
    // The 25th of 50 is within the first bucket: 25/40 of the way to 1 ms.
    expect(a!.p50Ms).toBeCloseTo(0.625);
    // The 47.5th is in the second: 7.5 of its 10, between 1 and 10 ms.
    expect(a!.p95Ms).toBeCloseTo(7.75);
  });

  it('lists each backend and version that served, and leaves out those that did not', () => {
    const before = snapshot(0, counters('a', 'v1', 10), counters('b', 'v2', 10));
    const after = snapshot(2, counters('a', 'v1', 30), counters('b', 'v2', 10), counters('c', 'v2', 4));
    expect(trafficBetween(before, after).map(({ backend, rps }) => [backend, rps])).toEqual([
      ['a', 10],
      ['c', 2],
    ]);
  });

  it('has no latency where nothing was timed: requests that no backend answered', () => {
    const after = snapshot(1, counters('none', 'none', 3, 3));
    expect(trafficBetween(snapshot(0), after)).toEqual([
      { backend: 'none', version: 'none', rps: 3, errorRate: 1, p50Ms: null, p95Ms: null },
    ]);
  });

  it('has none for an interval of no length', () => {
    expect(trafficBetween(snapshot(5, counters('a', 'v1', 1)), snapshot(5, counters('a', 'v1', 2)))).toEqual([]);
  });

  it('takes a quantile past the last bucket as the last bound: the histogram knows no more', () => {
    expect(quantile(BOUNDS, [0, 0, 0], 4, 0.5)).toBe(0.1);
    expect(quantile(BOUNDS, [0, 0, 0], 0, 0.5)).toBeNull();
  });

  it("reads the proxy's own request counter and latency histogram", async () => {
    const metrics = createProxyMetrics(new BackendPool({ logger: memoryLogger(), healthIntervalMs: 1000 }));
    const labels = { backend: 'a', model_version: 'v1' };
    metrics.requests.inc({ ...labels, status: '200' }, 7);
    metrics.requests.inc({ ...labels, status: '502' }, 2);
    metrics.requests.inc({ ...labels, status: '404' });
    for (const seconds of [0.0002, 0.003, 0.003]) metrics.upstreamLatency.observe(labels, seconds);
    const read = await readCounters(metrics, 42);
    expect(read.at).toBe(42);
    expect(read.bounds).toEqual([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
    const a = read.counters.get('a\u0000v1')!;
    expect(a).toMatchObject({ requests: 10, errors: 2, latencyCount: 3 });
    expect(a.buckets.slice(0, 4)).toEqual([1, 1, 1, 3]);
  });
});

describe('the drift a prediction server exports', () => {
  it('is its PSI per feature and outlier rate, with the version it serves', () => {
    const text = [
      '# HELP mlops_feature_psi Population stability index',
      '# TYPE mlops_feature_psi gauge',
      'mlops_feature_psi{feature="bill_length_mm",model_version="v3"} 0.012',
      'mlops_feature_psi{feature="island \\"east\\"",model_version="v3"} 0.5',
      'mlops_outlier_rate{model_version="v3"} 0.25',
      'mlops_model_info{model_version="v3",engine="wasm"} 1',
    ].join('\n');
    expect(parseDrift('a', text)).toEqual({
      backend: 'a',
      version: 'v3',
      psi: { bill_length_mm: 0.012, 'island "east"': 0.5 },
      outlierRate: 0.25,
    });
  });

  it('is nothing from a server with no model or no traffic yet', () => {
    expect(parseDrift('a', 'mlops_model_load_failures_total 0\n')).toBeUndefined();
  });
});

/** A source whose counters advance by hand, one reading per sample. */
function fakeSource(readings: CounterSnapshot[], drift: DriftPoint[] = []): SampleSource {
  return { counters: async () => readings.shift()!, drift: async () => drift };
}

describe('the sampler', () => {
  const logger = memoryLogger();

  it('counts from a first reading, then keeps one sample per reading, oldest first', async () => {
    const drift = [{ backend: 'a', version: 'v1', psi: { x: 0.1 }, outlierRate: 0 }];
    const sampler = new Sampler(fakeSource([snapshot(0, counters('a', 'v1', 0)), snapshot(5, counters('a', 'v1', 50))], drift), logger, {
      intervalMs: 5000,
      historyMs: 60_000,
    });
    expect(await sampler.sample()).toBeUndefined();
    expect(sampler.samples()).toEqual([]);
    const sample = await sampler.sample();
    expect(sample).toMatchObject({ t: 5000, traffic: [{ backend: 'a', rps: 10 }], drift });
    expect(sampler.samples()).toEqual([sample]);
  });

  it('keeps history / interval samples, however long it runs', async () => {
    const readings = Array.from({ length: 11 }, (_, i) => snapshot(i, counters('a', 'v1', i * 3)));
    const sampler = new Sampler(fakeSource(readings), logger, { intervalMs: 1000, historyMs: 4000 });
    for (let i = 0; i < 11; i++) await sampler.sample();
    expect(sampler.samples().map((s) => [s.t, s.traffic[0]!.rps])).toEqual([
      [7000, 3],
      [8000, 3],
      [9000, 3],
      [10_000, 3],
    ]);
  });

  it('tells each subscriber of each sample until it unsubscribes, and closes them when it stops', async () => {
    const readings = [0, 1, 2, 3].map((s) => snapshot(s));
    const sampler = new Sampler(fakeSource(readings), logger, { intervalMs: 1000, historyMs: 10_000 });
    const seen: number[][] = [[], []];
    let closed = 0;
    const unsubscribe = sampler.subscribe(
      (s) => seen[0]!.push(s.t),
      () => closed++,
    );
    sampler.subscribe(
      (s) => seen[1]!.push(s.t),
      () => closed++,
    );
    await sampler.sample();
    await sampler.sample();
    unsubscribe();
    await sampler.sample();
    sampler.stop();
    expect(seen).toEqual([[1000], [1000, 2000]]);
    expect(closed).toBe(1);
    sampler.subscribe(
      () => seen[0]!.push(-1),
      () => closed++,
    );
    expect(closed).toBe(2); // a subscriber after the stop is closed at once
  });

  it('shares one sample among calls that overlap, so a slow scrape never doubles up', async () => {
    const sampler = new Sampler(fakeSource([snapshot(0), snapshot(1), snapshot(2)]), logger, { intervalMs: 1000, historyMs: 10_000 });
    await sampler.sample();
    const [first, second] = await Promise.all([sampler.sample(), sampler.sample()]);
    expect(first).toBe(second);
    expect(sampler.samples()).toHaveLength(1);
  });

  it.each([
    [{ intervalMs: 0, historyMs: 1000 }, 'dashboard sampling interval: expected at least 0.1 s, got 0 s'],
    [{ intervalMs: Number.NaN, historyMs: 1000 }, 'dashboard sampling interval: expected at least 0.1 s, got NaN s'],
    [{ intervalMs: 5000, historyMs: 1000 }, 'dashboard history: expected at least one sampling interval (5 s), got 1 s'],
    [{ intervalMs: 100, historyMs: 24 * 3600_000 }, 'dashboard history: 864000 samples is over the 100000 kept in memory'],
  ])('refuses %o with a config error that says which flag to change', (options, message) => {
    const make = () => new Sampler(fakeSource([]), logger, options);
    expect(make).toThrow(MlopsError);
    expect(make).toThrow(message);
    try {
      make();
    } catch (err) {
      expect((err as MlopsError).errorClass).toBe('config');
      expect((err as MlopsError).hint).toContain('--dashboard-interval');
    }
  });
});
