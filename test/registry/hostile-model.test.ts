import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ModelStore } from '../../serving/model-store.js';
import { loadConfig } from '../../src/config/load.js';
import type { MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { FolderStore } from '../../src/registry/folder-store.js';
import { Registry } from '../../src/registry/registry.js';
import { mlopsFromSources } from '../helpers/cli.js';
import { modelFileStandIns } from '../helpers/model-files.js';

/* Model files changed by hand, or by someone hostile: each is refused before the model is loaded. */
let root: string;
let registry: Registry;
let version: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-hostile-model-'));
  registry = new Registry(new FolderStore(join(root, 'registry')));
  ({ version } = await registry.register(await modelFileStandIns(root), { runId: 'r1', summary: {} }));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const versionFile = (name: string) => join(root, 'registry/versions', version, name);
const editManifest = async (change: (files: Record<string, string>) => void) => {
  const manifest = JSON.parse(await readFile(versionFile('manifest.json'), 'utf8')) as { files: Record<string, string> };
  change(manifest.files);
  await writeFile(versionFile('manifest.json'), JSON.stringify(manifest));
};
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('expected a refusal'),
    (err: unknown) => err as MlopsError,
  );
/** The server's load of a fixed folder, as `mlops serve --model-dir` does it: its error, if any. */
const serveDir = async (dir: string) =>
  (await new ModelStore({ kind: 'dir', dir }, { driftWindow: 10, log: memoryLogger() }).check()).error;

it('refuses a version whose manifest leaves out a model file, even with that file changed to match nothing', async () => {
  await editManifest((files) => delete files['weights.bin']);
  await writeFile(versionFile('weights.bin'), Buffer.from([6, 6, 6, 6]));
  const err = await refusal(registry.open(version));
  expect(err).toMatchObject({ errorClass: 'data', code: 'checksum_mismatch' });
  expect(err.message).toBe(`the manifest of registry version ${version} does not list weights.bin: every model file must be listed`);
  expect(await serveDir(join(root, 'registry/versions', version))).toContain('does not list weights.bin');
});

it('refuses a model.json whose weight path climbs out of the folder, its checksum updated to match', async () => {
  const model = { format: 'layers-model', weightsManifest: [{ paths: [`${'../'.repeat(20)}etc/hostname`], weights: [] }] };
  await writeFile(versionFile('model.json'), JSON.stringify(model));
  const checksum = createHash('sha256')
    .update(await readFile(versionFile('model.json')))
    .digest('hex');
  await editManifest((files) => (files['model.json'] = checksum));
  const err = await refusal(registry.open(version));
  expect(err).toMatchObject({ errorClass: 'data', code: 'checksum_mismatch' });
  expect(err.message).toBe(
    `model.json of registry version ${version} names the weight file "${'../'.repeat(20)}etc/hostname", which is not a file of its manifest`,
  );
  expect(await serveDir(join(root, 'registry/versions', version))).toContain('etc/hostname", which is not a file of its manifest');
});

it('refuses to serve a folder without its manifest, through the CLI', async () => {
  const dir = join(root, 'image-model');
  await cp(join(root, 'registry/versions', version), dir, { recursive: true });
  await rm(join(dir, 'manifest.json'));
  const config = structuredClone((await loadConfig('mlops.config.yaml', process.env)).config);
  config.serving.log.path = join(root, 'predictions.jsonl');
  await writeFile(join(root, 'mlops.config.yaml'), stringify(config));
  const served = mlopsFromSources('--config', join(root, 'mlops.config.yaml'), 'serve', '--model-dir', dir, '--port', '0');
  expect(served.code).toBe(4); // a fixed model that cannot load never will: the server exits
  expect(served.stderr).not.toMatch(/\n\s+at /);
  expect(served.stderr).toContain(`${dir} has no manifest.json: only a registry version's folder is served`);
});
