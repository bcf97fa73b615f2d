import type { ReleaseStrategy } from './strategy.js';

/** The new server takes its share of traffic as soon as it is ready; no stage, nothing to judge. */
export const direct: ReleaseStrategy = {
  mode: 'direct',
  hold: async () => {},
  stage: async () => undefined,
  end: async () => {},
};
