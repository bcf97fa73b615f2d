/**
 * Drift as each prediction server measures it: the PSI per feature and the outlier rate it exports
 * on /metrics (serving/metrics.ts), read at the dashboard's sampling interval.
 */

export interface DriftPoint {
  backend: string;
  /** The version the server reports, which after a hot swap may be newer than the one it was registered with. */
  version: string;
  psi: Record<string, number>;
  outlierRate: number | null;
}

const SAMPLE = /^(mlops_feature_psi|mlops_outlier_rate)\{([^}]*)\}\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;
const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** The drift gauges in a Prometheus text exposition; other metrics are passed over. */
export function parseDrift(backend: string, text: string): DriftPoint | undefined {
  let point: DriftPoint | undefined;
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(LABEL)].map(([, name, value]) => [name!, unescape(value!)]));
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    point ??= { backend, version: labels.model_version ?? 'unknown', psi: {}, outlierRate: null };
    if (m[1] === 'mlops_outlier_rate') point.outlierRate = value;
    else if (labels.feature !== undefined) point.psi[labels.feature] = value;
  }
  return point;
}

/** One server's drift, or undefined when it exports none yet (no model, no traffic) or cannot be reached. */
export async function scrapeDrift(backend: string, url: string, timeoutMs: number): Promise<DriftPoint | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.ok) return parseDrift(backend, await res.text());
    await res.body?.cancel();
    return undefined;
  } catch {
    return undefined; // the health checks report an unreachable server; the chart just has a gap
  }
}
