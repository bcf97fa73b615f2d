import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { FolderStore } from '../../src/registry/folder-store.js';
import { modelFiles } from '../../src/registry/model-files.js';
import { Registry } from '../../src/registry/registry.js';
import { modelFileStandIns } from '../helpers/model-files.js';

let root: string;
let registry: Registry;
let files: string[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-registry-'));
  registry = new Registry(new FolderStore(join(root, 'registry')));
  files = await modelFileStandIns(root);
});
afterEach(() => rm(root, { recursive: true, force: true }));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: MlopsError) => e,
  );

describe('the folder registry', () => {
  it('stores immutable, numbered versions with a checksum per file', async () => {
    const v1 = await registry.register(files, { runId: 'r1', summary: { accuracy: 0.9 } });
    const v2 = await registry.register(files, { runId: 'r2', summary: {} });
    expect([v1.version, v2.version]).toEqual(['v1', 'v2']);
    expect(Object.keys(v1.files)).toEqual(modelFiles);
    const { manifest, dir } = await registry.open('v1');
    expect(manifest.summary).toEqual({ accuracy: 0.9 });
    expect(await readFile(join(dir, 'weights.bin'))).toEqual(Buffer.from([1, 2, 3, 4]));
  });

  it('refuses a corrupted file on read, naming it', async () => {
    await registry.register(files, { runId: 'r1', summary: {} });
    await writeFile(join(root, 'registry/versions/v1/weights.bin'), Buffer.from([9, 9, 9, 9]));
    const err = await failure(registry.open('v1'));
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toBe('checksum mismatch in registry version v1: weights.bin is corrupted');
  });

  it("names an alias's version from its manifest alone: only opening the version to load it reads the model files", async () => {
    await registry.register(files, { runId: 'r1', summary: { accuracy: 0.9 } });
    await registry.promote('v1');
    await writeFile(join(root, 'registry/versions/v1/weights.bin'), Buffer.from([9, 9, 9, 9]));
    expect(await registry.manifest('champion')).toMatchObject({ version: 'v1', runId: 'r1', summary: { accuracy: 0.9 } });
    expect(await registry.tag('champion', { image: 'penguins-server:v1' })).toEqual({ image: 'penguins-server:v1' });
    expect((await failure(registry.open('champion')))!.code).toBe('checksum_mismatch');
    expect((await failure(registry.manifest('v7')))!.message).toContain('"v7" points at version v7, which is missing');
  });

  it('promotes a champion, keeps the one before as previous, and rolls back and forth', async () => {
    for (let i = 0; i < 3; i++) await registry.register(files, { runId: `r${i}`, summary: {} });
    await registry.promote('v1');
    expect(await registry.promote('v3')).toEqual({ champion: 'v3', previous: 'v1' });
    expect(await registry.rollback()).toEqual({ champion: 'v1', previous: 'v3' });
    expect(await registry.rollback()).toEqual({ champion: 'v3', previous: 'v1' });
  });

  it('says clearly when the champion points at a missing version', async () => {
    await registry.register(files, { runId: 'r1', summary: {} });
    await writeFile(join(root, 'registry/aliases.json'), JSON.stringify({ champion: 'v7' }));
    const err = await failure(registry.open('champion'));
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toContain('"champion" points at version v7, which is missing');
  });

  it('has no champion before the first promotion', async () => {
    expect(await registry.resolve('champion')).toBeUndefined();
    expect((await failure(registry.open('champion')))!.errorClass).toBe('config');
  });

  it('never corrupts under concurrent writers: every registration gets its own version', async () => {
    const manifests = await Promise.all(Array.from({ length: 8 }, (_, i) => registry.register(files, { runId: `r${i}`, summary: {} })));
    expect(new Set(manifests.map((m) => m.version)).size).toBe(8);
    expect(await registry.versions()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']);
  });

  it('takes over a lock left by a dead process, and times out on a live one with a clear message', async () => {
    await registry.register(files, { runId: 'r0', summary: {} });
    await writeFile(join(root, 'registry/.lock'), '999999999');
    expect((await registry.register(files, { runId: 'r1', summary: {} })).version).toBe('v2');
    await writeFile(join(root, 'registry/.lock'), String(process.pid));
    const err = await failure(registry.withLock(async () => undefined, 200));
    expect(err!.message).toContain('is locked by another run');
  });

  it('registers a run once: its very files again give back its version, as a rekick after a crash at record does', async () => {
    const v1 = await registry.register(files, { runId: 'r1', summary: {} });
    expect(await registry.register(files, { runId: 'r1', summary: {} })).toEqual(v1);
    expect((await registry.register(files, { runId: 'r2', summary: {} })).version).toBe('v2');
    await writeFile(files[1]!, Buffer.from([5, 6, 7, 8])); // retrained: a rekick from train
    expect((await registry.register(files, { runId: 'r1', summary: {} })).version).toBe('v3');
    expect(await readdir(join(root, 'registry/versions'))).toEqual(expect.arrayContaining(['v1', 'v2', 'v3']));
    expect(await readdir(join(root, 'registry/versions'))).toHaveLength(3);
  });

  it('cleans what killed runs left, once it holds the lock, and says so', async () => {
    await registry.register(files, { runId: 'r1', summary: {} });
    const dir = join(root, 'registry');
    await mkdir(join(dir, 'versions/.staging-0badf00d'));
    await writeFile(join(dir, 'versions/.staging-0badf00d/model.json'), '{');
    await writeFile(join(dir, 'aliases.json.0badf00d.tmp'), '{');
    await writeFile(join(dir, 'versions/v1/tags.json.0badf00d.tmp'), '{');
    // The lock's temporary files: a killed run's (its pid gone), and a live run's, waiting for the lock.
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    await writeFile(join(dir, `.lock.${gone.pid}-0badf00d.tmp`), `${gone.pid}`);
    await writeFile(join(dir, `.lock.${process.pid}-0badf00d.tmp`), `${process.pid}`);
    const log = memoryLogger();
    await new Registry(new FolderStore(dir, log)).register(files, { runId: 'r2', summary: {} });
    expect((await readdir(dir, { recursive: true })).sort()).toEqual(
      [
        `.lock.${process.pid}-0badf00d.tmp`,
        'versions',
        'versions/v1',
        'versions/v2',
        ...['v1', 'v2'].flatMap((v) => ['manifest.json', ...modelFiles].map((f) => `versions/${v}/${f}`)),
      ].sort(),
    );
    expect(log.lines.map((l) => `${l.level}: ${l.message}`)).toEqual([
      `warn: the model registry ${dir}: removed what killed runs left: .lock.${gone.pid}-0badf00d.tmp, aliases.json.0badf00d.tmp, versions/.staging-0badf00d, versions/v1/tags.json.0badf00d.tmp`,
    ]);
  });
});
