import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelFiles } from '../../src/registry/model-files.js';

/**
 * Small stand-ins for the files of the model format, in `modelFiles` order (model.json, weights.bin,
 * preprocess.json, metadata.json), for registry tests that never load the model: their paths.
 */
export async function modelFileStandIns(dir: string, card: unknown = {}): Promise<string[]> {
  const contents: Record<string, string | Buffer> = {
    'model.json': JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }),
    'weights.bin': Buffer.from([1, 2, 3, 4]),
    'preprocess.json': '{}',
    'metadata.json': JSON.stringify(card),
  };
  return Promise.all(modelFiles.map(async (name) => (await writeFile(join(dir, name), contents[name]!), join(dir, name))));
}
