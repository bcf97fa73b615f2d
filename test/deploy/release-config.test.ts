import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { refusal, withDeploy } from '../helpers/config.js';

describe('deploy.release config', () => {
  it('defaults to a direct release, as before', () => {
    const { deploy } = parseConfig(withDeploy({}), {});
    expect(deploy.release).toBe('direct');
    expect(deploy.verdict).toEqual({ max_error_rate: 0.01, max_p99_latency_ratio: 2, latency_slack_ms: 5, min_agreement: 0.95 });
  });

  it('takes a shadow or a canary with an end', () => {
    expect(parseConfig(withDeploy({ release: 'shadow', shadow: { share: 0.5, duration: 300 } }), {}).deploy.shadow).toEqual({
      share: 0.5,
      duration: 300,
    });
    expect(parseConfig(withDeploy({ release: 'canary', canary: { min_requests: 500 } }), {}).deploy.canary).toEqual({
      weight: 0.1,
      min_requests: 500,
    });
  });

  it('refuses a shadow share outside 0..1, naming the key', () => {
    expect(refusal({ release: 'shadow', shadow: { share: 1.5, duration: 60 } })).toMatch(/deploy\.shadow\.share: /);
    expect(refusal({ release: 'shadow', shadow: { share: -0.1, duration: 60 } })).toMatch(/deploy\.shadow\.share: /);
    expect(refusal({ release: 'shadow', shadow: { share: 0, duration: 60 } })).toMatch(
      /deploy\.shadow\.share: a shadow of share 0 sees no request/,
    );
  });

  it('refuses a canary weight outside (0, 1), naming the key', () => {
    for (const weight of [0, 1, 2])
      expect(refusal({ release: 'canary', canary: { weight, duration: 60 } })).toMatch(
        /deploy\.canary\.weight: expected a share in \(0, 1\)/,
      );
  });

  it('refuses a canary or shadow without duration or min_requests, saying which keys end it', () => {
    expect(refusal({ release: 'canary' })).toMatch(
      /deploy\.canary: a canary release needs an end: set deploy\.canary\.duration \(seconds\) or deploy\.canary\.min_requests/,
    );
    expect(refusal({ release: 'shadow', shadow: { share: 1 } })).toMatch(/deploy\.shadow: a shadow release needs an end/);
    expect(refusal({ release: 'blue-green' })).toMatch(/deploy\.release: /);
  });
});
