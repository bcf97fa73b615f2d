import { describe, expect, it } from 'vitest';
import { divergenceCause, type SeenRows } from '../../src/model/divergence.js';
import type { PreprocessSpec } from '../../src/model/preprocess.js';

const spec: PreprocessSpec = {
  format: 'mlops-preprocess/1',
  features: [
    { name: 'c', kind: 'category', vocabulary: ['a'], fill: 'a' },
    { name: 'x', kind: 'numeric', mean: 0, std: 1 },
  ],
  width: 3,
  label: { name: 'price', task: 'regression', scale: { mean: 0, std: 1 } },
};
const rows = (x: number[], y: number[], split: SeenRows['split'] = 'train'): SeenRows => ({
  split,
  x: Float32Array.from(x),
  y: Float32Array.from(y),
});

describe('the cause of a failed training', () => {
  it('is the learning rate when the data look ordinary', () => {
    const hint = divergenceCause(spec, [rows([1, 0, 0.5, 0, 1, -2], [0.3, -1])], 0.5);
    expect(hint).toBe('the learning rate (model.learning_rate 0.5) is likely too high: lower it');
  });

  it("is a feature's extreme values, naming the feature and the split, and nothing else", () => {
    const hint = divergenceCause(spec, [rows([1, 0, 0.5, 0, 1, -2], [0.3, -1]), rows([1, 0, 4e4], [0.1], 'validation')], 0.001);
    expect(hint).toMatch(/^a feature's extreme values: "x" has validation values 4\.00e\+4 standard deviations from its train mean/);
    expect(hint).not.toContain('learning rate');
  });

  it("is the target's scale when the target has extreme values", () => {
    const hint = divergenceCause(spec, [rows([1, 0, 4e4, 0, 1, -2], [0.3, 900])], 0.001);
    expect(hint).toMatch(/^the target's scale: "price" has train values 900 standard deviations from its train mean/);
    expect(hint).not.toContain('"x"');
  });

  it('does not blame the one-hot slots of a category', () => {
    const hint = divergenceCause({ ...spec, label: { name: 'k', task: 'binary', classes: ['n', 'y'] } }, [rows([1, 0, 3], [1])], 0.01);
    expect(hint).toContain('learning rate');
  });
});
