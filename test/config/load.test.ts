import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configHash, loadConfig, parseConfig } from '../../src/config/load.js';
import { describeError, MlopsError } from '../../src/errors.js';
import { imageRepository } from '../../src/image/build.js';
import { redact } from '../../src/secrets.js';

/** The smallest valid config: one feature, one label, a DuckDB query. */
function minimal(): Record<string, any> {
  return {
    version: 1,
    project: 'demo',
    data: {
      source: { kind: 'duckdb', query: 'SELECT 1 AS age, 2 AS label' },
      contract: {
        columns: {
          age: { type: 'float' },
          label: { type: 'label' },
        },
      },
    },
  };
}

/** Applies `change` to a fresh minimal config and returns the config error it raises. */
function configErrorFor(change: (config: Record<string, any>) => void, env: NodeJS.ProcessEnv = {}): MlopsError {
  const raw = minimal();
  change(raw);
  try {
    parseConfig(raw, env);
  } catch (err) {
    expect(err).toBeInstanceOf(MlopsError);
    expect((err as MlopsError).errorClass).toBe('config');
    return err as MlopsError;
  }
  throw new Error('expected the config to be refused');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('loading mlops.config.yaml', () => {
  it('reports a missing file as a config error naming the path', async () => {
    const file = join(dir, 'does-not-exist.yaml');
    const err = await loadConfig(file, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlopsError);
    expect((err as MlopsError).errorClass).toBe('config');
    expect((err as MlopsError).message).toContain(file);
  });

  it('reports invalid YAML with the line it broke on', async () => {
    // Line 4 is indented with a tab, which YAML forbids.
    const file = await writeConfig('broken.yaml', ['version: 1', 'project: demo', 'data:', '\tsource: {}'].join('\n'));
    const err = (await loadConfig(file, {}).catch((e: unknown) => e)) as MlopsError;
    expect(err.errorClass).toBe('config');
    expect(err.message).toContain(`${file} is not valid YAML at line 4, column 1: Tabs are not allowed as indentation`);
  });

  it('loads a valid file and resolves its folder for relative paths', async () => {
    const file = await writeConfig(
      'ok.yaml',
      [
        'version: 1',
        'project: demo',
        'data:',
        '  source: { kind: duckdb, query: "SELECT 1 AS age, 2 AS label" }',
        '  contract:',
        '    columns:',
        '      age: { type: float }',
        '      label: { type: label }',
      ].join('\n'),
    );
    const loaded = await loadConfig(file, {});
    expect(loaded.file).toBe(file);
    expect(loaded.dir).toBe(dir);
    expect(loaded.config.project).toBe('demo');
    // Defaults fill in what the file leaves out.
    expect(loaded.config.data.split).toEqual({ seed: 42, train: 0.7, validation: 0.15, test: 0.15 });
    expect(loaded.config.data.contract.max_quarantine_ratio).toBe(0.05);
  });

  it('loads the shipped mlops.config.yaml', async () => {
    const loaded = await loadConfig(resolve(import.meta.dirname, '../../mlops.config.yaml'), {});
    expect(loaded.config.project).toBe('penguins');
    expect(loaded.config.data.source.kind).toBe('duckdb');
    const labels = Object.entries(loaded.config.data.contract.columns).filter(([, c]) => c.type === 'label');
    expect(labels.map(([name]) => name)).toEqual(['species']);
  });
});

describe('config validation messages', () => {
  it('suggests the nearest key for a typo', () => {
    const err = configErrorFor((c) => {
      c.data.contract.max_quarantine_ration = 0.1;
    });
    expect(err.message).toContain('data.contract.max_quarantine_ration: unknown key; did you mean "max_quarantine_ratio"?');
  });

  it('suggests keys inside a column too', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age.rnage = [0, 1];
    });
    expect(err.message).toContain('data.contract.columns.age.rnage: unknown key; did you mean "range"?');
  });

  it('names the path, what it expected and what it got for a wrong type', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age.range = 'abc';
    });
    expect(err.message).toContain('data.contract.columns.age.range: expected [min, max], got "abc"');
  });

  it('lists the allowed column types for an enum typo', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age.type = 'flaot';
    });
    expect(err.message).toContain('data.contract.columns.age.type');
    expect(err.message).toContain('float, integer, category, boolean, timestamp, label');
    expect(err.message).toContain('got "flaot"');
  });

  it('reports a missing required setting', () => {
    const err = configErrorFor((c) => {
      delete c.project;
    });
    expect(err.message).toContain('project: missing');
  });

  it('refuses a contract without a label column', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.label.type = 'category';
    });
    expect(err.message).toContain('data.contract.columns: expected exactly one column of type label, got 0');
  });

  it('refuses a contract with two label columns, naming both', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age.type = 'label';
    });
    expect(err.message).toContain('expected exactly one column of type label, got 2 (age, label)');
  });

  it('refuses features that are not declared columns', () => {
    const err = configErrorFor((c) => {
      c.data.features = ['age', 'weight'];
    });
    expect(err.message).toContain('data.features.1: "weight" is not a column of data.contract.columns');
  });

  it('refuses the label as a feature', () => {
    const err = configErrorFor((c) => {
      c.data.features = ['label'];
    });
    expect(err.message).toContain('"label" is the label, not a feature');
  });

  it('refuses split fractions that do not add up to 1, showing the sum', () => {
    const err = configErrorFor((c) => {
      c.data.split = { train: 0.8, validation: 0.15, test: 0.15 };
    });
    expect(err.message).toContain('data.split: expected train + validation + test = 1, got 0.8 + 0.15 + 0.15');
  });

  it('refuses a split time_column that is not a timestamp column', () => {
    const err = configErrorFor((c) => {
      c.data.split = { time_column: 'age' };
    });
    expect(err.message).toContain('data.split.time_column: "age" is not a timestamp column');
  });

  it('refuses a range on a classification label, which is text', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.label.range = [0, 1];
    });
    expect(err.message).toContain('data.contract.columns.label.range: a range applies to the label of a regression task');
    // ...but a regression label may have one.
    const raw = minimal();
    raw.data.contract.columns.label.range = [0, 1];
    raw.model = { task: 'regression' };
    expect(parseConfig(raw, {}).data.contract.columns.label!.range).toEqual([0, 1]);
  });

  it('refuses a decision threshold on a task that is not binary, and one outside (0, 1)', () => {
    const multiclass = configErrorFor((c) => (c.model = { threshold: 'f1' }));
    expect(multiclass.message).toContain(
      'model.threshold: a decision threshold applies to a binary task, not multiclass; remove model.threshold (a multiclass model predicts its most probable class)',
    );
    const regression = configErrorFor((c) => (c.model = { task: 'regression', threshold: 0.3 }));
    expect(regression.message).toContain('model.threshold: a decision threshold applies to a binary task, not regression');
    const outside = configErrorFor((c) => (c.model = { task: 'binary', threshold: 1.5 }));
    expect(outside.message).toContain('model.threshold: expected a probability between 0 and 1 (exclusive), f1 or youden, got 1.5');
    expect(parseConfig({ ...minimal(), model: { task: 'binary', threshold: 'youden' } }, {}).model.threshold).toBe('youden');
  });

  it('refuses class weights on a regression task, and a weight that is not a positive number', () => {
    const regression = configErrorFor((c) => (c.model = { task: 'regression', class_weight: 'balanced' }));
    expect(regression.message).toContain('model.class_weight: class weights apply to a classification task, not regression');
    const negative = configErrorFor((c) => (c.model = { class_weight: { yes: -1 } }));
    expect(negative.message).toContain('model.class_weight.yes: expected a positive weight (a class left out weighs 1), got -1');
    const word = configErrorFor((c) => (c.model = { class_weight: 'inverse' }));
    expect(word.message).toContain('model.class_weight: expected one of balanced, got "inverse"');
  });

  it('refuses allowed values of an integer column that are not whole numbers', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age = { type: 'integer', values: [1, 'two'] };
    });
    expect(err.message).toContain('data.contract.columns.age.values: allowed values of an integer column must be whole numbers');
  });

  it('reports an unknown source kind by its value', () => {
    const err = configErrorFor((c) => {
      c.data.source.kind = 'mysql';
    });
    expect(err.message).toContain('data.source.kind: expected kind: duckdb or postgres, got "mysql"');
  });

  it('reports every problem at once', () => {
    const err = configErrorFor((c) => {
      c.data.contract.columns.age.type = 'flaot';
      c.data.contract.max_quarantine_ration = 0.1;
    });
    expect(err.message).toContain('data.contract.columns.age.type');
    expect(err.message).toContain('max_quarantine_ration');
  });
});

describe('the PostgreSQL connection string is a secret', () => {
  const url = 'postgres://u:secretpw@127.0.0.1:5432/db';
  const postgres = (c: Record<string, any>) => {
    c.data.source = { kind: 'postgres', query: 'SELECT 1 AS age, 2 AS label' };
  };

  it('is required, and the error says to set MLOPS_PG_URL', () => {
    const err = configErrorFor(postgres);
    expect(err.message).toContain('data.source.url');
    expect(describeError(err)).toContain('MLOPS_PG_URL');
  });

  it('comes from the environment, and is scrubbed from text once loaded', () => {
    const raw = minimal();
    postgres(raw);
    const config = parseConfig(raw, { MLOPS_PG_URL: url });
    expect(config.data.source).toMatchObject({ kind: 'postgres', url });

    const scrubbed = redact(`could not connect to ${url}; password secretpw rejected`);
    expect(scrubbed).not.toContain('secretpw');
    expect(scrubbed).toContain('could not connect to');
  });

  it('never appears in a validation error about another setting', () => {
    const featureTypo = configErrorFor(
      (c) => {
        postgres(c);
        c.data.features = ['nope'];
      },
      { MLOPS_PG_URL: url },
    );
    expect(featureTypo.message).toContain('data.features.0: "nope" is not a column');
    expect(featureTypo.message).not.toContain('secretpw');

    const kindTypo = configErrorFor((c) => {
      c.data.source = { kind: 'postgress', query: 'SELECT 1', url };
    });
    expect(kindTypo.message).toContain('data.source.kind: expected kind: duckdb or postgres, got "postgress"');
    expect(kindTypo.message).not.toContain('secretpw');
  });

  it('is left out of the config hash', () => {
    const a = minimal();
    postgres(a);
    const b = minimal();
    postgres(b);
    const one = parseConfig(a, { MLOPS_PG_URL: url });
    const other = parseConfig(b, { MLOPS_PG_URL: 'postgres://v:otherpw@127.0.0.1:5432/db' });
    expect(configHash(one)).toBe(configHash(other));
  });
});

describe('configHash', () => {
  it('is the same for equal configs, whatever the key order', () => {
    const a = parseConfig(minimal(), {});
    const reordered = minimal();
    reordered.data = { contract: reordered.data.contract, source: reordered.data.source };
    const b = parseConfig(reordered, {});
    expect(configHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash(b)).toBe(configHash(a));
  });

  it('changes when a setting changes', () => {
    const a = parseConfig(minimal(), {});
    const changed = minimal();
    changed.data.split = { seed: 7 };
    expect(configHash(parseConfig(changed, {}))).not.toBe(configHash(a));
  });

  it('counts a default the same as writing it out', () => {
    const explicit = minimal();
    explicit.data.split = { seed: 42 };
    expect(configHash(parseConfig(explicit, {}))).toBe(configHash(parseConfig(minimal(), {})));
  });
});

describe('the environment overrides what differs between a laptop and a workflow', () => {
  it('keeps the registry on a git branch and picks the deploy target in a workflow, from one file', () => {
    const config = parseConfig(minimal(), { MLOPS_REGISTRY_BACKEND: 'git-branch', MLOPS_DEPLOY_TARGET: 'docker' });
    expect(config.registry.backend).toBe('git-branch');
    expect(config.deploy.target).toBe('docker');
    expect(parseConfig(minimal(), {}).deploy.target).toBe('local');
  });

  it("keeps a fork's own registry branch for the workflows, and a laptop loads the same file as a folder", () => {
    const file = { ...minimal(), registry: { branch: 'models', remote: 'upstream' } };
    expect(parseConfig(file, { MLOPS_REGISTRY_BACKEND: 'git-branch' }).registry).toMatchObject({ branch: 'models', remote: 'upstream' });
    expect(parseConfig(file, {}).registry).toEqual({ backend: 'folder', path: '.mlops/registry' });
    expect(() => parseConfig({ ...minimal(), registry: { branch: '' } }, {})).toThrow(/registry\.branch/);
  });

  it('takes the image registry and base from the environment, as a fork pushing to ghcr.io does', () => {
    const config = parseConfig(minimal(), { MLOPS_IMAGE_REGISTRY: 'ghcr.io/Some-Owner', MLOPS_IMAGE_BASE: 'node:20-bookworm-slim' });
    expect(config.image).toMatchObject({ registry: 'ghcr.io/Some-Owner', base: 'node:20-bookworm-slim' });
    expect(imageRepository(config)).toBe('ghcr.io/some-owner/demo-server');
  });

  it('says which setting a bad value from the environment is for', () => {
    expect(() => parseConfig(minimal(), { MLOPS_DEPLOY_TARGET: 'kubernetes' })).toThrow(/deploy\.target: .*"kubernetes"/);
  });

  it('takes the webhook from MLOPS_WEBHOOK_URL, as a secret', () => {
    const url = 'https://hooks.example.com/services/T000/B000/webhooksecret';
    expect(parseConfig(minimal(), { MLOPS_WEBHOOK_URL: url }).notify.webhook.url).toBe(url);
    expect(redact(`POST ${url} failed`)).toBe('POST *** failed');
  });
});

describe("a command's flags override the file's settings, under the same rules", () => {
  it('lays a flag over its key, keeps the rest of the section, and leaves the key alone when the flag is not given', () => {
    const file = { ...minimal(), deploy: { target: 'swarm', replicas: 3, swarm: { max_replicas: 4 } } };
    expect(parseConfig(file, {}, { deploy: { replicas: 4, release: undefined } }).deploy).toMatchObject({
      target: 'swarm',
      replicas: 4,
      release: 'direct',
      swarm: { max_replicas: 4 },
    });
    expect(parseConfig(file, {}, { deploy: { replicas: undefined } }).deploy.replicas).toBe(3);
  });

  it('applies after the environment: the flag is the more specific', () => {
    const config = parseConfig(minimal(), { MLOPS_DEPLOY_TARGET: 'docker' }, { deploy: { target: 'local' } });
    expect(config.deploy.target).toBe('local');
  });

  it('refuses a flag that breaks a rule as the file would be refused', () => {
    const file = { ...minimal(), deploy: { target: 'swarm' } };
    expect(() => parseConfig(file, {}, { deploy: { replicas: 9 } })).toThrow(
      'deploy.replicas: 9 is over deploy.swarm.max_replicas (8): raise that too',
    );
    expect(() => parseConfig(minimal(), {}, { serving: { port: Number('abc') } })).toThrow(/^serving\.port: /);
  });
});
