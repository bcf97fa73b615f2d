import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { MlopsError } from '../../src/errors.js';

/** The smallest valid config, with `deploy` set. */
export const withDeploy = (deploy: Record<string, unknown>) => ({
  version: 1,
  project: 'demo',
  data: {
    source: { kind: 'duckdb', query: 'SELECT 1 AS age, 2 AS label' },
    contract: { columns: { age: { type: 'float' }, label: { type: 'label' } } },
  },
  deploy,
});

/** Why a config with this `deploy` is refused: a config error's message. */
export const refusal = (deploy: Record<string, unknown>): string => refusalOf(withDeploy(deploy));

/** Why this raw config is refused: a config error's message. */
export function refusalOf(raw: unknown): string {
  try {
    parseConfig(raw, {});
  } catch (err) {
    expect(err).toMatchObject({ errorClass: 'config' });
    expect(err).toBeInstanceOf(MlopsError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be refused');
}
