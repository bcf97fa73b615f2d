import type { ReleaseComparison, ReleaseMode, ReleaseSide } from '../src/step-outputs.js';

/** What the deployer asks of the proxy for a staged release (PUT /release). */
export interface ReleaseSpec {
  mode: ReleaseMode;
  /** The new server, by the url it listens on: known before it starts, so it never gets traffic by weight. */
  url: string;
  /** shadow: the share of /predict requests mirrored to it; canary: the share sent to it. */
  share: number;
}

/**
 * A new server's first answers are slow while its code and kernels warm up, which says nothing
 * about the model: they count for errors, not for latency. The champion is warm already.
 */
export const WARMUP_REQUESTS = 20;

/** Latency buckets 1% wide from 10 µs (as HdrHistogram keeps them): fixed memory, percentiles within 1%. */
const MIN_MS = 0.01;
const GROWTH = Math.log(1.01);
const BUCKETS = 1700; // up to about 3 minutes

/**
 * Latencies as a histogram rather than samples: recording is O(1) and a percentile O(buckets), so
 * the deployer's polls of GET /release never stall the proxy's event loop on a sort.
 */
class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private n = 0;

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / GROWTH));
    this.counts[i]!++;
    this.n++;
  }

  /** The upper edge of the bucket holding the q-th latency: at most 1% above the true value. */
  percentile(q: number): number | null {
    if (!this.n) return null;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) if ((seen += this.counts[i]!) >= rank) return MIN_MS * Math.exp(i * GROWTH);
    return null;
  }
}

class Side {
  requests = 0;
  errors = 0;
  private readonly latency = new LatencyHistogram();

  constructor(private readonly warmup = 0) {}

  observe(ok: boolean, ms: number): void {
    this.requests++;
    if (!ok) this.errors++;
    else if (this.requests > this.warmup) this.latency.record(ms);
  }

  view(): ReleaseSide {
    const at = (q: number) => {
      const ms = this.latency.percentile(q);
      return ms === null ? null : round(ms);
    };
    return { requests: this.requests, errors: this.errors, p50_ms: at(0.5), p99_ms: at(0.99) };
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** One answer's predictions, a row each: the label, or the value for regression. */
function predictions(body: Buffer): (string | number)[] | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as { predictions?: unknown[] } & Record<string, unknown>;
    const rows = Array.isArray(parsed.predictions) ? (parsed.predictions as Record<string, unknown>[]) : [parsed];
    const out = rows.map((r) => (typeof r.label === 'string' ? r.label : typeof r.value === 'number' ? r.value : undefined));
    return out.every((v) => v !== undefined) ? (out as (string | number)[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A staged release in the proxy: which requests the new server gets, and how its answers compare
 * with the champion's. The deployer reads the comparison (GET /release) and decides the verdict.
 */
export class Release {
  readonly champion = new Side();
  readonly candidate = new Side(WARMUP_REQUESTS);
  private readonly began = performance.now();
  private credit = 0;
  private pairs = 0;
  private agreed = 0;
  private labelled = 0;
  private absDiff = 0;

  constructor(readonly spec: ReleaseSpec) {}

  /** Whether this request is the candidate's: exactly `share` of them, evenly spread, with no randomness to flake. */
  take(): boolean {
    this.credit += this.spec.share;
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }

  /** A mirrored request's two answers (shadow): each row's label agrees or not; a value differs by so much. */
  pair(champion: Buffer, candidate: Buffer): void {
    const a = predictions(champion);
    const b = predictions(candidate);
    if (!a || !b || a.length !== b.length) return;
    for (let i = 0; i < a.length; i++) {
      this.pairs++;
      if (typeof a[i] === 'number' && typeof b[i] === 'number') this.absDiff += Math.abs((a[i] as number) - (b[i] as number));
      else {
        this.labelled++;
        if (a[i] === b[i]) this.agreed++;
      }
    }
  }

  report(): ReleaseComparison {
    const regression = this.pairs - this.labelled;
    return {
      mode: this.spec.mode,
      candidate_url: this.spec.url,
      share: this.spec.share,
      seconds: round((performance.now() - this.began) / 1000),
      champion: this.champion.view(),
      candidate: this.candidate.view(),
      pairs: this.pairs,
      agreement: this.labelled ? round(this.agreed / this.labelled) : null,
      mean_abs_diff: regression ? round(this.absDiff / regression) : null,
    };
  }
}
