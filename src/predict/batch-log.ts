import type { PredictOutputs } from '../step-outputs.js';

/**
 * A batch as one line of prediction log: the time, the run as its request id, the model version,
 * and in place of one request's inputs and outputs, the batch's counts (rows, outliers, predicted
 * classes, each feature's values in the reference's bins). `mlops monitor` adds them to the
 * version's traffic as it adds served predictions, so drift and class shift are judged on both.
 */
export const batchLogLine = (out: PredictOutputs): string =>
  JSON.stringify({
    time: out.scoredAt,
    request_id: out.runId,
    model_version: out.version,
    batch: { as_of: out.window.asOf, ...out.counts },
  });
