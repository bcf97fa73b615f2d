import { binValue, psi } from '../model/reference.js';
import type { LogRecord } from './log-lines.js';
import type { VersionReport } from './report.js';
import type { VersionReference } from './version-reference.js';

type Prediction = Extract<LogRecord, { inputs: unknown }>;
type Batch = Extract<LogRecord, { batch: unknown }>['batch'];

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * One version's traffic over the window, counted as the log is read: O(features) per prediction and
 * one number per request (its latency), so a long window needs no more memory than its request count.
 */
export class VersionStats {
  private predictions = 0;
  private requests = 0;
  private readonly failed = new Map<number, number>();
  private latencies = new Float64Array(1024);
  private outliers = 0;
  private readonly features: (VersionReference['features'][number] & { counts: Float64Array })[];
  private readonly classCounts?: Float64Array;

  constructor(
    readonly version: string,
    private readonly reference: VersionReference | undefined,
    /** Features the log has as "[redacted]": they cannot be binned. */
    private readonly redacted: ReadonlySet<string>,
    private readonly outlierZ: number,
  ) {
    this.features = (reference?.features ?? [])
      .filter((f) => !redacted.has(f.name))
      .map((f) => ({ ...f, counts: new Float64Array(f.expected.length) }));
    if (reference?.classes && reference.labelShares) this.classCounts = new Float64Array(reference.classes.length);
  }

  /** A prediction line; `newRequest` is false for the second and later records of one batch request. */
  addPrediction(r: Prediction, newRequest: boolean): void {
    this.predictions++;
    if (newRequest) {
      if (this.requests === this.latencies.length) {
        const grown = new Float64Array(this.latencies.length * 2);
        grown.set(this.latencies);
        this.latencies = grown;
      }
      this.latencies[this.requests++] = r.latencyMs;
    }
    if (r.outlierScore > this.outlierZ) this.outliers++;
    for (const f of this.features) {
      const bin = binValue(f.reference, r.inputs[f.name]);
      if (bin >= 0) f.counts[bin]!++;
    }
    if (this.classCounts && r.label !== undefined) {
      const c = this.reference!.classes!.indexOf(r.label);
      if (c >= 0) this.classCounts[c]!++;
    }
  }

  /** A scored batch's counts: its rows are predictions, binned as served ones are; a batch is no request, so no latency or error. */
  addBatch(b: Batch): void {
    this.predictions += b.rows;
    this.outliers += b.outliers;
    for (const f of this.features) {
      const counts = b.features[f.name];
      if (counts?.length === f.counts.length) counts.forEach((n, i) => (f.counts[i]! += n));
    }
    if (this.classCounts && b.classes) this.reference!.classes!.forEach((c, i) => (this.classCounts![i]! += b.classes![c] ?? 0));
  }

  addFailure(status: number): void {
    this.failed.set(status, (this.failed.get(status) ?? 0) + 1);
  }

  /** The version's measures; judging them against thresholds is judge.ts's. */
  measures(): Omit<VersionReport, 'notJudged' | 'breaches'> {
    const failed = [...this.failed.values()].reduce((a, b) => a + b, 0);
    const all = this.requests + failed;
    const sorted = this.latencies.slice(0, this.requests).sort();
    const psiByFeature: Record<string, number> = {};
    for (const f of this.features) {
      const value = psi(f.expected, f.counts);
      if (value !== undefined) psiByFeature[f.name] = value;
    }
    const { classes, labelShares } = this.reference ?? {};
    const served = this.classCounts && this.predictions ? this.classCounts : undefined;
    const total = served?.reduce((a, b) => a + b, 0) ?? 0;
    return {
      version: this.version,
      inRegistry: this.reference !== undefined,
      predictions: this.predictions,
      requests: all,
      failed: Object.fromEntries([...this.failed].sort(([a], [b]) => a - b).map(([s, n]) => [String(s), n])),
      errorRate: all ? failed / all : null,
      latencyMs: this.requests ? { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) } : null,
      outlierRate: this.predictions ? this.outliers / this.predictions : null,
      psi: psiByFeature,
      classes:
        served && total
          ? Object.fromEntries(classes!.map((c, i) => [c, { served: served[i]! / total, training: labelShares![i]! }]))
          : null,
      classPsi: served ? (psi(labelShares!, served) ?? null) : null,
    };
  }
}
