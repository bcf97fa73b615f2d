import { describe, expect, it } from 'vitest';
import type { StepName } from '../src/step-names.js';
import { countPoints, samplePoints, sweep, type CrashTarget } from './helpers/crash-driver.js';

/*
 * `mlops run` on the sample config, killed (SIGKILL) right after one of its file-system writes or
 * child-process starts, then recovered as a user would (test/helpers/crash-driver.ts says what is
 * checked). A sample of the points: every STRIDE-th, the first, the last, and one in each step the
 * stride misses of those the target changes (up to gate, a run writes the same whatever its deploy
 * target). `npm run bench:crash` takes every point.
 */
const STRIDE = 60;
const steps: Record<CrashTarget, StepName[]> = { none: ['extract', 'train', 'evaluate', 'gate', 'record'], local: ['record', 'deploy'] };

describe.concurrent.each<CrashTarget>(['none', 'local'])(
  'mlops run killed at a write or a child-process start, deploy.target %s',
  (target) => {
    it('leaves a registry that verifies, the truth in mlops status, no lock, and a rekick that ends green; undeploy leaves no process', async () => {
      const points = samplePoints(await countPoints(target), STRIDE, steps[target]);
      expect(await sweep(target, points, 1)).toEqual([]);
    }, 900_000);
  },
);
