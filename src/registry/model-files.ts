import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MlopsError } from '../errors.js';
import { readJson } from '../json-file.js';
import type { VersionManifest } from './schemas.js';

/** The files of the model format: the TF.js layers model, its preprocessing and its model card. */
export const modelFiles = ['model.json', 'weights.bin', 'preprocess.json', 'metadata.json'];

/** What of model.json names other files: the weight files the loader reads. */
const weightsSchema = z.object({ weightsManifest: z.array(z.object({ paths: z.array(z.string()) })) });

/** sha256 of a file, for the checksums of the model card and of the registry's manifests. */
export const sha256File = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/**
 * Checks a model folder against its manifest before the model is loaded: every file of the model
 * format is listed (a file left out would go unchecked), every listed file matches its checksum,
 * and model.json names as weights only files the manifest lists, whose names are plain (schemas.ts),
 * so the loader reads nothing else, inside the folder or out. `what` names the folder in errors.
 */
export async function verifyModelFolder(dir: string, manifest: VersionManifest, what: string, hint: string): Promise<void> {
  const refuse = (message: string) => new MlopsError('data', message, { code: 'checksum_mismatch', hint });
  const unlisted = modelFiles.filter((name) => !Object.hasOwn(manifest.files, name));
  if (unlisted.length > 0) throw refuse(`the manifest of ${what} does not list ${unlisted.join(', ')}: every model file must be listed`);
  for (const [name, expected] of Object.entries(manifest.files)) {
    const actual = await sha256File(join(dir, name)).catch(() => 'missing');
    if (actual !== expected) throw refuse(`checksum mismatch in ${what}: ${name} is ${actual === 'missing' ? 'missing' : 'corrupted'}`);
  }
  const { weightsManifest } = await readJson(join(dir, 'model.json'), weightsSchema);
  const foreign = weightsManifest.flatMap((group) => group.paths).find((path) => !Object.hasOwn(manifest.files, path));
  if (foreign !== undefined)
    throw refuse(`model.json of ${what} names the weight file ${JSON.stringify(foreign)}, which is not a file of its manifest`);
}
