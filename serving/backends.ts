import type { Logger } from '../src/log.js';
import type { DiscoveryName } from '../src/serving-spec.js';

/** Who put a backend in the pool: its registration (PUT /backends/:id), or a discovery, which owns what it found. */
export type BackendSource = 'registered' | DiscoveryName;

/** What a prediction server is: where it listens, what it serves, its share of new requests. */
export interface BackendSpec {
  url: string;
  version: string;
  /** Relative share of new requests; 0 drains it (requests in flight finish, no new ones). */
  weight: number;
  source: BackendSource;
}

export interface Backend extends BackendSpec {
  readonly id: string;
  healthy: boolean;
  /** Responses it gave, of any status. */
  served: number;
  lastError?: string;
  /** Consecutive failed health checks. */
  failures: number;
  /** Smooth weighted round robin state. */
  current: number;
  probing?: Promise<void>;
}

/** A backend as GET /backends shows it. */
export interface BackendView {
  id: string;
  url: string;
  version: string;
  weight: number;
  healthy: boolean;
  source: BackendSource;
  requests: number;
  last_error: string | null;
}

const PROBE_TIMEOUT_MS = 1000;
/** One failed check may be a blip; two in a row take a backend out. One success brings it back. */
const UNHEALTHY_AFTER = 2;

const view = (b: Backend): BackendView => ({
  id: b.id,
  url: b.url,
  version: b.version,
  weight: b.weight,
  healthy: b.healthy,
  source: b.source,
  requests: b.served,
  last_error: b.lastError ?? null,
});

/** Why a fetch failed, in a few words: undici hides the socket error in `cause`. */
function failureReason(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e.cause?.message ?? e.message ?? String(err);
}

/** The prediction servers behind the proxy: their health, checked on GET /ready, and who gets the next request. */
export class BackendPool {
  private readonly backends = new Map<string, Backend>();
  private timer?: NodeJS.Timeout;
  /** The new server of a staged release, by url: never picked by weight, the release decides what it gets. */
  private heldUrl?: string;

  constructor(private readonly options: { logger: Logger; healthIntervalMs: number }) {}

  get(id: string): Backend | undefined {
    return this.backends.get(id);
  }

  list(): BackendView[] {
    return [...this.backends.values()].map(view);
  }

  /** Backends that can take a new request by weight: healthy, weight above 0, not held. */
  routable(): number {
    let n = 0;
    for (const b of this.backends.values()) if (b.healthy && b.weight > 0 && b.url !== this.heldUrl) n++;
    return n;
  }

  /**
   * Adds or updates a backend. One that is new, moved to another url or not known healthy is checked
   * at once, so it takes traffic as soon as it is ready rather than a health interval later.
   */
  async set(id: string, spec: BackendSpec): Promise<{ backend: BackendView; created: boolean }> {
    const known = this.backends.get(id);
    const changed = !known || known.url !== spec.url || known.version !== spec.version || known.weight !== spec.weight;
    const b = known?.url === spec.url ? Object.assign(known, spec) : { id, ...spec, healthy: false, served: 0, failures: 0, current: 0 };
    this.backends.set(id, b);
    if (changed)
      this.options.logger.info(`backend ${id} ${known ? 'updated' : 'added'}: ${spec.url}, ${spec.version}, weight ${spec.weight}`);
    if (!b.healthy) await this.probe(id);
    return { backend: view(b), created: !known };
  }

  remove(id: string): boolean {
    const removed = this.backends.delete(id);
    if (removed) this.options.logger.info(`backend ${id} removed`);
    return removed;
  }

  /** Keeps the backend at `url` out of the weighted rotation (undefined lets it in again). */
  hold(url: string | undefined): void {
    this.heldUrl = url;
  }

  /** The held backend, when it is healthy. */
  held(): Backend | undefined {
    for (const b of this.backends.values()) if (b.url === this.heldUrl && b.healthy) return b;
    return undefined;
  }

  /** Smooth weighted round robin (as nginx) over the healthy backends with weight > 0, other than `except` and the held one. */
  pick(except?: Backend): Backend | undefined {
    let best: Backend | undefined;
    let total = 0;
    for (const b of this.backends.values()) {
      if (!b.healthy || b.weight <= 0 || b === except || b.url === this.heldUrl) continue;
      b.current += b.weight;
      total += b.weight;
      if (!best || b.current > best.current) best = b;
    }
    if (best) best.current -= total;
    return best;
  }

  /**
   * Out of rotation until a scheduled health check brings it back: for a backend that did not answer
   * in time, which is not checked at once, as a server whose predictions hang may still answer /ready.
   */
  takeOut(b: Backend, reason: string): void {
    b.lastError = reason;
    this.setHealthy(b, false);
  }

  /**
   * A request to `b` failed: out of rotation at once. It is checked again right away, so a fluke
   * (a kept-alive connection the server had just closed) costs one retry, not a health interval.
   */
  failed(b: Backend, reason: string): void {
    this.takeOut(b, reason);
    void this.probe(b.id);
  }

  /** Checks one backend's GET /ready; concurrent checks of the same backend share one request. */
  probe(id: string): Promise<void> {
    const b = this.backends.get(id);
    if (!b) return Promise.resolve();
    return (b.probing ??= this.check(b).finally(() => (b.probing = undefined)));
  }

  /** One round of health checks, as the interval runs them. */
  async checkHealth(): Promise<void> {
    await Promise.all([...this.backends.keys()].map((id) => this.probe(id)));
  }

  start(): void {
    this.timer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(b: Backend): Promise<void> {
    try {
      const res = await fetch(`${b.url}/ready`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      const body = (await res.json().catch(() => undefined)) as { error?: unknown } | undefined;
      if (!res.ok) throw new Error(`/ready answered ${res.status}${typeof body?.error === 'string' ? ` (${body.error})` : ''}`);
      b.failures = 0;
      b.lastError = undefined; // healthy again: an error from before it listened (or a fluke) is over
      this.setHealthy(b, true);
    } catch (err) {
      b.failures++;
      b.lastError = failureReason(err);
      if (b.failures >= UNHEALTHY_AFTER) this.setHealthy(b, false);
    }
  }

  private setHealthy(b: Backend, healthy: boolean): void {
    if (b.healthy === healthy) return;
    b.healthy = healthy;
    if (healthy) this.options.logger.info(`backend ${b.id} (${b.version}) is healthy`);
    else this.options.logger.warn(`backend ${b.id} (${b.version}) is out of rotation: ${b.lastError ?? 'unhealthy'}`);
  }
}
