import type { ReleaseComparison, ReleaseMode, ReleaseSide } from '../src/step-outputs.js';

/** What the deployer asks of the proxy for a staged release (PUT /release). */
export interface ReleaseSpec {
  mode: ReleaseMode;
  /** The new server, by the url it listens on: known before it starts, so it never gets traffic by weight. */
  url: string;
  /** shadow: the share of /predict requests mirrored to it; canary: the share sent to it. */
  share: number;
}

/** Latency samples kept per side; past this, a reservoir sample keeps the percentiles honest in bounded memory. */
const MAX_SAMPLES = 50_000;
/**
 * A new server's first answers are slow while its code and kernels warm up, which says nothing
 * about the model: they count for errors, not for latency. The champion is warm already.
 */
export const WARMUP_REQUESTS = 20;

class Side {
  requests = 0;
  errors = 0;
  private readonly samples = new Float64Array(MAX_SAMPLES);
  private seen = 0;

  constructor(private readonly warmup = 0) {}

  observe(ok: boolean, ms: number): void {
    this.requests++;
    if (!ok) {
      this.errors++;
      return;
    }
    if (this.requests <= this.warmup) return;
    const i = this.seen < MAX_SAMPLES ? this.seen : Math.floor(Math.random() * (this.seen + 1));
    if (i < MAX_SAMPLES) this.samples[i] = ms;
    this.seen++;
  }

  view(): ReleaseSide {
    const sorted = this.samples.slice(0, Math.min(this.seen, MAX_SAMPLES)).sort();
    const at = (q: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!) : null);
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
