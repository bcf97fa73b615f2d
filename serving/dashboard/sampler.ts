import { configError, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { DriftPoint } from './drift.js';
import { Ring } from './ring.js';
import { trafficBetween, type CounterSnapshot, type TrafficPoint } from './traffic.js';

/** What the dashboard charts: one interval's traffic per backend and version, and each server's drift at its end. */
export interface Sample {
  /** The end of the interval, in milliseconds since the epoch. */
  t: number;
  traffic: TrafficPoint[];
  drift: DriftPoint[];
}

/** Where samples come from: the proxy's counters (cheap, read in-process) and the servers' drift (scraped). */
export interface SampleSource {
  counters(): Promise<CounterSnapshot>;
  drift(): Promise<DriftPoint[]>;
}

export interface SamplingOptions {
  intervalMs: number;
  /** How far back the history goes; the ring holds historyMs / intervalMs samples. */
  historyMs: number;
}

export const DEFAULT_SAMPLING: SamplingOptions = { intervalMs: 5000, historyMs: 60 * 60_000 };
const MIN_INTERVAL_MS = 100;
const MAX_SAMPLES = 100_000;

interface Subscriber {
  onSample(sample: Sample): void;
  onClose(): void;
}

/** Samples traffic and drift on a timer into a bounded history, and tells subscribers (the page's event streams) of each one. */
export class Sampler {
  private readonly history: Ring<Sample>;
  private readonly subscribers = new Set<Subscriber>();
  private baseline?: CounterSnapshot;
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<Sample | undefined>;
  private stopped = false;

  constructor(
    private readonly source: SampleSource,
    private readonly logger: Logger,
    readonly options: SamplingOptions = DEFAULT_SAMPLING,
  ) {
    const { intervalMs, historyMs } = options;
    const hint = 'mlops proxy takes --dashboard-interval in seconds, default 5, and --dashboard-history in minutes, default 60';
    if (!(intervalMs >= MIN_INTERVAL_MS))
      throw configError(`dashboard sampling interval: expected at least ${MIN_INTERVAL_MS / 1000} s, got ${intervalMs / 1000} s`, hint);
    if (!(historyMs >= intervalMs))
      throw configError(
        `dashboard history: expected at least one sampling interval (${intervalMs / 1000} s), got ${historyMs / 1000} s`,
        hint,
      );
    const capacity = Math.round(historyMs / intervalMs);
    if (capacity > MAX_SAMPLES)
      throw configError(
        `dashboard history: ${capacity} samples is over the ${MAX_SAMPLES} kept in memory; sample less often or keep less`,
        hint,
      );
    this.history = new Ring(capacity);
  }

  /** The history, oldest first. */
  samples(): Sample[] {
    return this.history.toArray();
  }

  /**
   * Takes one sample: the traffic since the last call and the drift now. The first call only sets
   * the baseline the next one counts from, and returns undefined. Overlapping calls share one sample.
   */
  sample(): Promise<Sample | undefined> {
    return (this.sampling ??= this.take().finally(() => (this.sampling = undefined)));
  }

  /** Calls `onSample` with every new sample until the returned function is called or the sampler stops (`onClose`). */
  subscribe(onSample: Subscriber['onSample'], onClose: Subscriber['onClose']): () => void {
    const subscriber = { onSample, onClose };
    // A page that reconnects while the proxy shuts down must not hold its stream, and the server, open.
    if (this.stopped) {
      onClose();
      return () => {};
    }
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  start(): void {
    const tick = () => void this.sample().catch((err: unknown) => this.logger.warn(`dashboard sample failed: ${describeError(err)}`));
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const s of this.subscribers) s.onClose();
    this.subscribers.clear();
  }

  private async take(): Promise<Sample | undefined> {
    const [counters, drift] = await Promise.all([this.source.counters(), this.source.drift()]);
    const before = this.baseline;
    this.baseline = counters;
    if (!before) return undefined;
    const sample = { t: counters.at, traffic: trafficBetween(before, counters), drift };
    this.history.push(sample);
    for (const s of this.subscribers) s.onSample(sample);
    return sample;
  }
}
