import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

let chosen: Promise<BackendName> | undefined;

/**
 * TensorFlow.js's plain JavaScript backend greets its first tensor with a console banner ("Hi, looks
 * like you are running TensorFlow.js in Node.js ... install our node backend"). Here that advice is
 * already acted on: selectBackend takes tfjs-node whenever it loads, and the train step says which
 * backend ran. The banner is keyed on the backend's first write only, so it is switched off there;
 * every other TensorFlow.js warning still goes to the console (prod mode would hide them all).
 */
function quietCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null; // created now if not yet
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}
quietCpuBanner();

/** The backend an environment forces with MLOPS_TF_BACKEND, e.g. for a benchmark. */
export const preferredBackend = (env: NodeJS.ProcessEnv) => env.MLOPS_TF_BACKEND as BackendName | undefined;

/**
 * Picks the fastest TensorFlow.js backend that loads: native TensorFlow (`@tensorflow/tfjs-node`,
 * an optional dependency that installs where libtensorflow can be downloaded), then WebAssembly,
 * then plain JavaScript. `prefer` forces one; without it, the backend chosen before stays.
 */
export function selectBackend(prefer?: BackendName): Promise<BackendName> {
  if (prefer) chosen = use([prefer]);
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
