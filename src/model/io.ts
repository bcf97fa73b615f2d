import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MlopsError } from '../errors.js';
import { selectBackend, tf, type BackendName } from './backend.js';

/**
 * The standard TF.js layers format, `model.json` + `weights.bin`, written through a save handler
 * and read from memory, because the file:// handlers need the native backend.
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'weights.bin'), weights);
      await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

/** Loads a saved model, on `backend` if forced; a missing, truncated or foreign file is a clear error, never a crash later. */
export async function loadModel(dir: string, backend?: BackendName): Promise<tf.LayersModel> {
  await selectBackend(backend); // a process may load a model before it trains one (`mlops evaluate`, an action)
  try {
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: object;
      weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    };
    const specs = json.weightsManifest.flatMap((g) => g.weights);
    const weights = Buffer.concat(await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p)))));
    const data = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData: data }));
  } catch (err) {
    throw new MlopsError('data', `the model in ${dir} cannot be loaded: ${(err as Error).message}`, {
      hint: 'the files are missing or corrupt; retrain, or use another registry version',
    });
  }
}
