import { batchCountsSchema } from '../artifact-files.js';
import type { BatchCounts } from '../step-outputs.js';

/**
 * One line of the prediction log (serving/prediction-lines.ts writes them): a prediction with its
 * inputs, outputs, latency and outlier score, or a failed request with its status; or a scored
 * batch's counts (src/predict/batch-log.ts), which stand for its rows.
 */
interface Common {
  time: string;
  requestId: string;
  version: string;
  latencyMs: number;
}
export type LogRecord =
  | (Common & { inputs: Record<string, unknown>; label?: string; outlierScore: number })
  | (Common & { status: number })
  | (Omit<Common, 'latencyMs'> & { batch: BatchCounts });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The line's time without parsing it, when it starts the way the server writes every line. */
const TIME_PREFIX = '{"time":"';
export const quickTime = (line: string): string | undefined =>
  line.startsWith(TIME_PREFIX) ? line.slice(TIME_PREFIX.length, line.indexOf('"', TIME_PREFIX.length)) : undefined;

/** The record, or what is wrong with the line. */
export function parseLine(line: string): LogRecord | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message})` };
  }
  if (!isObject(v)) return { problem: 'not a JSON object' };
  const { time, request_id: requestId, model_version: version, latency_ms: latencyMs } = v;
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) return { problem: 'no valid "time"' };
  if (typeof version !== 'string' || !version) return { problem: 'no "model_version"' };
  if (v.batch !== undefined) {
    const batch = batchCountsSchema.safeParse(v.batch);
    if (!batch.success) return { problem: `a batch whose counts are not what this version expects (${batch.error.issues[0]?.message})` };
    return { time, requestId: typeof requestId === 'string' ? requestId : '', version, batch: batch.data };
  }
  if (typeof latencyMs !== 'number') return { problem: 'no numeric "latency_ms"' };
  const common = { time, requestId: typeof requestId === 'string' ? requestId : '', version, latencyMs };
  if (typeof v.status === 'number') return { ...common, status: v.status };
  const { inputs, outputs, outlier_score: outlierScore } = v;
  if (!isObject(inputs) || !isObject(outputs))
    return { problem: 'neither a prediction ("inputs", "outputs") nor a failed request ("status")' };
  if (typeof outlierScore !== 'number') return { problem: 'no numeric "outlier_score"' };
  return { ...common, inputs, label: typeof outputs.label === 'string' ? outputs.label : undefined, outlierScore };
}
