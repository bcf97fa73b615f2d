import type { Config } from '../config/schema.js';
import type { BackendName } from './backend.js';
import type { EpochStats, Rows } from './fit-loop.js';

/**
 * The model seam: a model family is one module behind this interface, and the registry in
 * families.ts names it. Everything around it is the family's to ignore: preprocessing (a family
 * sees standardised rows and encoded targets, and predicts in that encoding), the progress, the
 * divergence checks, the seeds of model.stability, the model card and the artifacts.
 */

/** What a family fits: the encoded train and validation rows, `width` inputs and `outputs` per row. */
export interface FitData {
  train: Rows;
  /** Early stopping watches these. */
  valid: Rows;
  width: number;
  outputs: number;
  /** model.class_weight: each class's weight (in the encoding's order), by which each row's loss is multiplied. */
  classWeights?: number[];
}

/** A model in memory, trained or loaded. Its memory (tensors, WebAssembly) is freed only by `dispose`. */
export interface Model {
  /** How it predicts, for the log: e.g. the MLP's `dense` fast path or `tfjs`. */
  engine: string;
  /** The outputs for `rows` encoded rows (`rows x width`), row-major, in the encoding it learned. */
  predict(x: Float32Array, rows: number): Float32Array;
  /**
   * For each of `rows` encoded rows, the gradient of its output `pick[r]` with respect to its
   * inputs (`rows x width`), as explanations integrate them. A family without gradients leaves it
   * out, and its models cannot explain their predictions.
   */
  gradients?(x: Float32Array, rows: number, pick: Int32Array): Float32Array;
  /** Writes the model's files into `dir`; `load` reads them back. */
  save(dir: string): Promise<void>;
  dispose(): void;
}

export interface ModelFamily {
  /**
   * Trains on `data` with `seed` (the same seed, data and config give the same model), calling
   * `onEpoch` after every epoch, early-stopped on the validation loss. Returns the best epoch's
   * model; judging whether it converged is the caller's.
   */
  fit(
    config: Config['model'],
    data: FitData,
    seed: number,
    onEpoch: (stats: EpochStats) => void,
  ): Promise<{ model: Model; best: { epoch: number; valLoss: number } }>;
  /** The model `save` wrote into `dir`, on `backend` if forced; missing or corrupt files are a data error. */
  load(dir: string, backend?: BackendName): Promise<Model>;
}
