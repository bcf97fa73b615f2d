import { describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../src/model/preprocess.js';
import type { FeatureReference } from '../../src/model/reference.js';
import { DriftMonitor } from '../../serving/monitor.js';
import { outlierScores } from '../../src/model/outliers.js';

const spec: PreprocessSpec = {
  format: 'mlops-preprocess/1',
  features: [
    { name: 'x', kind: 'numeric', mean: 0, std: 1 },
    { name: 'c', kind: 'category', vocabulary: ['a', 'b'], fill: 'a' },
  ],
  width: 4,
  label: { name: 'y', task: 'binary', classes: ['n', 'p'] },
};
const edges = [-1.28, -0.84, -0.52, -0.25, 0, 0.25, 0.52, 0.84, 1.28];
const reference: Record<string, FeatureReference> = {
  x: { kind: 'numeric', edges, shares: new Array(10).fill(0.1), missing: 0 },
  c: { kind: 'category', values: ['a', 'b'], shares: [0.5, 0.5, 0], missing: 0 },
};

/** Values spread evenly over the reference deciles (the bin midpoints). */
const even = (n: number) => Array.from({ length: n }, (_, i) => [-1.5, -1, -0.7, -0.4, -0.1, 0.1, 0.4, 0.7, 1, 1.5][i % 10]!);

describe('drift and outliers', () => {
  it('sees no drift when serving looks like training, and drift when a feature shifts', () => {
    const monitor = new DriftMonitor(spec, reference, 1000);
    monitor.observe({ x: even(1000), c: Array.from({ length: 1000 }, (_, i) => (i % 2 ? 'a' : 'b')) }, 1000, () => false);
    expect(monitor.psi().x).toBeLessThan(0.01);
    expect(monitor.psi().c).toBeLessThan(0.01);
    monitor.observe({ x: even(1000).map((v) => v + 2), c: new Array(1000).fill('z') }, 1000, () => false);
    expect(monitor.psi().x).toBeGreaterThan(0.25);
    expect(monitor.psi().c).toBeGreaterThan(0.25);
  });

  it('measures over a sliding window: old values age out', () => {
    const monitor = new DriftMonitor(spec, reference, 100);
    monitor.observe({ x: even(100).map((v) => v + 3), c: new Array(100).fill('a') }, 100, () => true);
    expect(monitor.outlierRate()).toBe(1);
    monitor.observe({ x: even(100), c: Array.from({ length: 100 }, (_, i) => (i % 2 ? 'a' : 'b')) }, 100, () => false);
    expect(monitor.psi().x).toBeLessThan(0.01);
    expect(monitor.outlierRate()).toBe(0);
  });

  it('scores a record by its largest standardised numeric value', () => {
    const x = Float32Array.from([5, 1, 0, 0, -0.5, 0, 1, 0]);
    expect(Array.from(outlierScores(spec, x, 2))).toEqual([5, 0.5]);
  });
});
