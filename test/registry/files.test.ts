import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ModelStore } from '../../serving/model-store.js';
import { loadConfig } from '../../src/config/load.js';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { readModelCard, writeModelCard, type ModelCard } from '../../src/model/model-card.js';
import { versionReference } from '../../src/monitor/version-reference.js';
import type { HistoryEntry } from '../../src/monitor/report.js';
import { FolderStore } from '../../src/registry/folder-store.js';
import { Registry } from '../../src/registry/registry.js';
import { retirement } from '../../src/retirement/retirement.js';
import { mlopsFromSources } from '../helpers/cli.js';
import { modelFileStandIns } from '../helpers/model-files.js';

/**
 * Every file of the registry is checked against its schema when read and when written: a
 * hand-corrupted file is a data error (`file_invalid`) that names the file and its first bad key,
 * through the API, the server and the CLI, never a crash deeper in.
 */

let root: string;
let registry: Registry;
let files: string[];

const card: ModelCard = {
  format: 'mlops-model-card/1',
  project: 'penguins',
  task: 'multiclass',
  family: 'mlp',
  label: 'species',
  classes: ['Adelie', 'Gentoo'],
  features: [
    { name: 'bill_length_mm', kind: 'numeric' },
    { name: 'island', kind: 'category' },
  ],
  lineage: { runId: 'r1', dataHash: 'd', configHash: 'c', gitSha: 'unknown', asOf: '2026-01-31', windowStart: '2025-01-31' },
  backend: 'wasm',
  timings: { trainSeconds: 1.5, samplesPerSecond: 200 },
  training: { epochs: 2, bestEpoch: 1, stoppedEarly: false, history: [{ epoch: 1, loss: 0.5, valLoss: 0.6, valMetric: 0.8 }] },
  reference: {
    bill_length_mm: { kind: 'numeric', edges: [40, 45], shares: [0.3, 0.3, 0.4], missing: 0 },
    island: { kind: 'category', values: ['Biscoe'], shares: [0.9, 0.1], missing: 0 },
  },
  checksums: { 'model.json': 'a'.repeat(64) },
  createdAt: '2026-01-31T12:00:00.000Z',
};

const evaluation = {
  metrics: {
    accuracy: 0.9,
    confusion: [
      [3, 1],
      [0, 4],
    ],
  },
};

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-registry-files-'));
  registry = new Registry(new FolderStore(join(root, 'registry')));
  files = [...(await modelFileStandIns(root, card)), join(root, 'evaluation.json')];
  await writeFile(join(root, 'evaluation.json'), JSON.stringify(evaluation));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as MlopsError,
  );

/** The registry's file, as a user would edit it by hand. */
const file = (path: string) => join(root, 'registry', path);
const edit = async (path: string, change: (value: Record<string, unknown>) => void) => {
  const value = JSON.parse(await readFile(file(path), 'utf8')) as Record<string, unknown>;
  change(value);
  await writeFile(file(path), JSON.stringify(value));
};

/** A data error about `path`, naming what is wrong in it. */
function expectInvalid(err: MlopsError, path: string, what: string | RegExp) {
  expect(err).toBeInstanceOf(MlopsError);
  expect(err.errorClass).toBe('data');
  expect(err.code).toBe('file_invalid');
  expect(err.message).toContain(`${path} is not what this version expects: `);
  expect(err.message).toMatch(what);
}

describe('manifest.json', () => {
  beforeEach(() => registry.register(files, { runId: 'r1', summary: { metrics: { accuracy: 0.9 } } }).then(() => undefined));

  it('that is not JSON is a data error naming the file', async () => {
    await writeFile(file('versions/v1/manifest.json'), '{"version": "v1", ');
    expectInvalid(await failure(registry.open('v1')), file('versions/v1/manifest.json'), /not valid JSON/);
  });

  it('with a wrong type on a key is a data error naming the key', async () => {
    await edit('versions/v1/manifest.json', (m) => ((m.files as Record<string, unknown>)['model.json'] = 42));
    expectInvalid(await failure(registry.open('v1')), file('versions/v1/manifest.json'), 'files.model.json: expected string, got 42');
    await edit('versions/v1/manifest.json', (m) => {
      m.files = {};
      m.createdAt = 'last tuesday';
    });
    expectInvalid(await failure(registry.open('v1')), file('versions/v1/manifest.json'), 'createdAt: expected an ISO time');
  });

  it('may not point outside its version folder, nor claim to be another version', async () => {
    await edit('versions/v1/manifest.json', (m) => (m.files = { '../../aliases.json': 'a'.repeat(64) }));
    expectInvalid(await failure(registry.open('v1')), file('versions/v1/manifest.json'), 'files');
    await edit('versions/v1/manifest.json', (m) => {
      m.files = {};
      m.version = 'v2';
    });
    expectInvalid(await failure(registry.open('v1')), file('versions/v1/manifest.json'), 'version: expected "v1", got "v2"');
  });

  it('is refused by the server that reads a model folder, rather than passed over for metadata.json', async () => {
    const dir = join(root, 'image-model');
    await mkdir(dir);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version: 'v1', createdAt: 'now', runId: 'r1', files: {}, summary: {} }));
    const store = new ModelStore({ kind: 'dir', dir }, { driftWindow: 100, log: memoryLogger() });
    const { error } = await store.check();
    expect(error).toContain(`${join(dir, 'manifest.json')} is not what this version expects: createdAt: expected an ISO time`);
  });
});

describe('aliases.json', () => {
  beforeEach(async () => {
    await registry.register(files, { runId: 'r1', summary: {} });
    await registry.promote('v1');
  });

  it('that is not JSON is a data error naming the file, on every read', async () => {
    await writeFile(file('aliases.json'), '{"champion": ');
    const reads = [
      () => registry.aliases(),
      () => registry.resolve('champion'),
      () => registry.open('champion'),
      () => registry.promote('v1'),
    ];
    for (const read of reads) expectInvalid(await failure(read()), file('aliases.json'), /not valid JSON/);
  });

  it('with a wrong type on a key is a data error naming the key', async () => {
    await writeFile(file('aliases.json'), JSON.stringify({ champion: 1 }));
    expectInvalid(await failure(registry.resolve('champion')), file('aliases.json'), 'champion: expected string, got 1');
    await writeFile(file('aliases.json'), JSON.stringify({ champion: 'latest' }));
    expectInvalid(await failure(registry.open('champion')), file('aliases.json'), 'champion: expected a version such as v3, got "latest"');
  });
});

describe('tags.json', () => {
  beforeEach(() => registry.register(files, { runId: 'r1', summary: {} }).then(() => undefined));

  it('keeps typed tags, and the users own string tags beside them', async () => {
    await writeFile(file('versions/v1/tags.json'), JSON.stringify({ owner: 'team-a' }));
    await registry.tag('v1', { image: 'ghcr.io/o/penguins:v1', retired_reason: undefined });
    await registry.tag('v1', { retired_at: '2026-02-01T00:00:00.000Z', retired_reason: 'too old' });
    expect(await registry.tags('v1')).toEqual({
      owner: 'team-a',
      image: 'ghcr.io/o/penguins:v1',
      retired_at: '2026-02-01T00:00:00.000Z',
      retired_reason: 'too old',
    });
    expect(await retirement(registry, 'v1')).toEqual({ at: '2026-02-01T00:00:00.000Z', reason: 'too old' });
  });

  it('that is not JSON is a data error naming the file, for readers and writers', async () => {
    await writeFile(file('versions/v1/tags.json'), '{"image": "x"');
    expectInvalid(await failure(registry.tags('v1')), file('versions/v1/tags.json'), /not valid JSON/);
    expectInvalid(await failure(registry.tag('v1', { image: 'y' })), file('versions/v1/tags.json'), /not valid JSON/);
    expectInvalid(await failure(retirement(registry, 'v1')), file('versions/v1/tags.json'), /not valid JSON/);
    expect(await readFile(file('versions/v1/tags.json'), 'utf8')).toBe('{"image": "x"'); // not overwritten
  });

  it('with a wrong type on a key is a data error naming the key', async () => {
    await writeFile(file('versions/v1/tags.json'), JSON.stringify({ image: 5 }));
    expectInvalid(await failure(registry.tags('v1')), file('versions/v1/tags.json'), 'image: expected string, got 5');
    await writeFile(file('versions/v1/tags.json'), JSON.stringify({ retired_at: 'yesterday' }));
    expectInvalid(await failure(retirement(registry, 'v1')), file('versions/v1/tags.json'), 'retired_at: expected an ISO time');
    await writeFile(file('versions/v1/tags.json'), JSON.stringify({ approved: true }));
    expectInvalid(await failure(registry.tags('v1')), file('versions/v1/tags.json'), 'approved: expected string, got true');
  });

  it('refuses to write a bad tag, and leaves the file as it was', async () => {
    await registry.tag('v1', { image: 'ghcr.io/o/penguins:v1' });
    await expect(registry.tag('v1', { retired_at: 'yesterday' })).rejects.toThrow(
      /refusing to write .*tags\.json: retired_at: expected an ISO time/,
    );
    await expect(registry.tag('v1', { digest: 'not a digest' })).rejects.toThrow(/refusing to write .*tags\.json: digest: /);
    await expect(registry.tag('v1', { owner: 7 } as never)).rejects.toThrow(/refusing to write .*tags\.json: owner: expected string/);
    expect(await registry.tags('v1')).toEqual({ image: 'ghcr.io/o/penguins:v1' });
  });
});

describe('monitoring history', () => {
  const entry: HistoryEntry = {
    version: 'v1',
    inRegistry: true,
    predictions: 10,
    requests: 10,
    failed: {},
    errorRate: 0,
    latencyMs: { p50: 1, p95: 2, p99: 3 },
    outlierRate: 0,
    psi: { bill_length_mm: 0.01 },
    classes: null,
    classPsi: null,
    notJudged: [],
    breaches: [],
    runId: 'm1',
    generatedAt: '2026-02-01T00:00:00.000Z',
    window: { duration: '1h', start: '2026-01-31T23:00:00.000Z', end: '2026-02-01T00:00:00.000Z' },
  };

  it('round-trips, and a corrupted entry is a data error naming the file and the key', async () => {
    await registry.recordMonitoring([entry]);
    expect(await registry.monitoringHistory('v1')).toEqual([entry]);
    const [name] = await readdir(file('monitoring/v1'));
    await edit(`monitoring/v1/${name}`, (e) => (e.psi = { bill_length_mm: 'high' }));
    expectInvalid(
      await failure(registry.monitoringHistory('v1')),
      file(`monitoring/v1/${name}`),
      'psi.bill_length_mm: expected number, got "high"',
    );
  });

  it('refuses to write a bad entry', async () => {
    await expect(registry.recordMonitoring([{ ...entry, version: '../v1' }])).rejects.toThrow(
      /refusing to write .*: version: expected a version/,
    );
    await expect(registry.recordMonitoring([{ ...entry, predictions: -1 }])).rejects.toThrow(/refusing to write .*: predictions: /);
  });
});

describe('metadata.json, the model card', () => {
  it('round-trips, a NaN loss included (JSON keeps it as null)', async () => {
    const dir = join(root, 'card');
    const diverged = structuredClone(card);
    diverged.training.history[0]!.valLoss = Number.NaN;
    await writeModelCard(dir, diverged);
    expect(await readModelCard(dir)).toEqual(diverged);
  });

  it('that is not JSON, or has a wrong type on a key, is a data error naming the file and the key', async () => {
    const dir = join(root, 'card');
    await mkdir(dir);
    await writeFile(join(dir, 'metadata.json'), '{"format": "mlops-model-card/1"');
    expectInvalid(await failure(readModelCard(dir)), join(dir, 'metadata.json'), /not valid JSON/);
    await writeFile(join(dir, 'metadata.json'), JSON.stringify({ ...card, reference: { island: { kind: 'category', values: 'Biscoe' } } }));
    expectInvalid(await failure(readModelCard(dir)), join(dir, 'metadata.json'), 'reference.island.values: expected array, got "Biscoe"');
  });

  it('is checked when monitoring reads a version reference from the registry', async () => {
    await writeFile(join(root, 'metadata.json'), JSON.stringify({ ...card, classes: 'Adelie' }));
    await registry.register(files, { runId: 'r1', summary: {} }); // checksums match: the file was registered so
    expectInvalid(
      await failure(versionReference(registry, 'v1', memoryLogger())),
      file('versions/v1/metadata.json'),
      'classes: expected array, got "Adelie"',
    );
  });

  it('gives monitoring the features, classes and label shares of a good version', async () => {
    await registry.register(files, { runId: 'r1', summary: {} });
    const reference = await versionReference(registry, 'v1', memoryLogger());
    expect(reference!.classes).toEqual(['Adelie', 'Gentoo']);
    expect(reference!.features.map((f) => f.name)).toEqual(['bill_length_mm', 'island']);
    expect(reference!.labelShares).toEqual([0.5, 0.5]);
  });

  it('refuses to write a bad card', async () => {
    await expect(writeModelCard(join(root, 'card'), { ...card, backend: 'gpu' as never })).rejects.toThrow(
      /refusing to write .*metadata\.json: backend: /,
    );
  });
});

describe('mlops models, on a corrupted registry', () => {
  const mlops = mlopsFromSources;

  let config: string;
  beforeEach(async () => {
    const shipped = structuredClone((await loadConfig('mlops.config.yaml', process.env)).config);
    shipped.registry = { backend: 'folder', path: join(root, 'registry') };
    shipped.workdir = join(root, 'work');
    config = join(root, 'mlops.config.yaml');
    await writeFile(config, stringify(shipped));
    await registry.register(files, { runId: 'r1', summary: { metrics: { accuracy: 0.9 } } });
    await registry.promote('v1');
  });

  /** Exit 3 (data), one line naming the file and the key, no stack trace. */
  function expectDataExit(result: ReturnType<typeof mlops>, path: string, what: string) {
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error\[data\]: /);
    expect(result.stderr).toContain(`${path} is not what this version expects: ${what}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }

  it('lists and shows a healthy registry', () => {
    const list = mlops('--config', config, 'models', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^v1 +champion /m);
    const show = mlops('--config', config, 'models', 'show', 'champion');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ version: 'v1', tags: {} });
  });

  it('exits 3 naming the manifest and its bad key', async () => {
    await edit('versions/v1/manifest.json', (m) => (m.runId = ['r1']));
    expectDataExit(
      mlops('--config', config, 'models', 'show', 'v1'),
      file('versions/v1/manifest.json'),
      'runId: expected string, got ["r1"]',
    );
    expectDataExit(mlops('--config', config, 'models', 'list'), file('versions/v1/manifest.json'), 'runId: expected string, got ["r1"]');
  });

  it('exits 3 naming aliases.json, or tags.json, and the bad key', async () => {
    await writeFile(file('versions/v1/tags.json'), JSON.stringify({ retired_at: 20260201 }));
    expectDataExit(
      mlops('--config', config, 'models', 'list'),
      file('versions/v1/tags.json'),
      'retired_at: expected an ISO time such as 2026-01-31T12:00:00.000Z, got 20260201',
    );
    expectDataExit(
      mlops('--config', config, 'models', 'show', 'v1'),
      file('versions/v1/tags.json'),
      'retired_at: expected an ISO time such as 2026-01-31T12:00:00.000Z, got 20260201',
    );
    await writeFile(file('aliases.json'), JSON.stringify({ champion: { version: 'v1' } }));
    expectDataExit(mlops('--config', config, 'models', 'show', 'champion'), file('aliases.json'), 'champion: expected string');
    expectDataExit(mlops('--config', config, 'models', 'list'), file('aliases.json'), 'champion: expected string');
  });
});
