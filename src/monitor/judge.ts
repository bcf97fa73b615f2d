import type { Config } from '../config/schema.js';
import type { Breach, VersionReport } from './report.js';

type Measures = Omit<VersionReport, 'notJudged' | 'breaches'>;

/**
 * A version's measures against `monitoring.thresholds`. A measure on too little traffic is not
 * judged (a PSI over 50 predictions is noise), and the report says so rather than passing it.
 */
export function judge(m: Measures, monitoring: Config['monitoring'], redacted: string[]): VersionReport {
  const { thresholds: t, min_volume: min } = monitoring;
  const breaches: Breach[] = [];
  const notJudged: string[] = [];
  const over = (metric: Breach['metric'], value: number | null, threshold: number, feature?: string) => {
    if (value !== null && value > threshold) breaches.push({ metric, ...(feature && { feature }), value, threshold });
  };
  if (m.requests < min) notJudged.push(`error rate and latency: ${m.requests} requests, below monitoring.min_volume (${min})`);
  else {
    over('error_rate', m.errorRate, t.error_rate);
    over('latency_p99_ms', m.latencyMs?.p99 ?? null, t.latency_p99_ms);
  }
  if (m.predictions < min)
    notJudged.push(`drift, outliers and class shift: ${m.predictions} predictions, below monitoring.min_volume (${min})`);
  else {
    over('outlier_rate', m.outlierRate, t.outlier_rate);
    for (const [feature, value] of Object.entries(m.psi)) over('psi', value, t.psi, feature);
    over('class_psi', m.classPsi, t.class_psi);
  }
  if (!m.inRegistry) notJudged.push('drift and class shift: the version is not in the registry, so there is no training reference');
  if (redacted.length) notJudged.push(`drift of ${redacted.join(', ')}: redacted in the prediction log (serving.log.redact)`);
  return { ...m, notJudged, breaches };
}
