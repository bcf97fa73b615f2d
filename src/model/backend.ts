import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

let chosen: Promise<BackendName> | undefined;

/**
 * Picks the fastest TensorFlow.js backend that loads: native TensorFlow (`@tensorflow/tfjs-node`,
 * an optional dependency that installs where libtensorflow can be downloaded), then WebAssembly,
 * then plain JavaScript. `MLOPS_TF_BACKEND` forces one, e.g. for a benchmark.
 */
export function selectBackend(prefer = process.env.MLOPS_TF_BACKEND as BackendName | undefined): Promise<BackendName> {
  if (prefer) return use([prefer]);
  chosen ??= use(['tensorflow', 'wasm', 'cpu']);
  return chosen;
}

async function use(order: BackendName[]): Promise<BackendName> {
  for (const name of order) {
    try {
      if (name === 'tensorflow') {
        // A computed name keeps bundlers and type checks from requiring the optional package.
        const nativePackage = '@tensorflow/tfjs-node';
        await import(nativePackage);
      }
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // not installed or failed to initialise: try the next one
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded (tried ${order.join(', ')})`);
}

export { tf };
