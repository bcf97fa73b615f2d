import type { StepContext } from '../context.js';
import type { Alert } from '../notify/alert.js';
import { notifyRecovered, sendAlert } from '../notify/notify.js';
import type { Breach, MonitoredMetric, MonitorReport, VersionReport } from './report.js';

/** Alerts are deduplicated per version: one open issue for each version that breaches, commented on while it keeps breaching. */
export const alertStep = (version: string) => `monitor/${version}`;
/** The monitor's own failure (it could not read the logs or the registry) has an issue of its own. */
export const MONITOR_STEP = 'monitor';

const names: Record<MonitoredMetric, string> = {
  psi: 'drift (PSI)',
  outlier_rate: 'outlier rate',
  error_rate: 'error rate',
  latency_p99_ms: 'p99 latency (ms)',
  class_psi: 'predicted class shift (PSI)',
};

const advice: Record<MonitoredMetric, string> = {
  psi: 'Drift: the inputs no longer look like the training data. Look upstream for a change (units, a new category, a broken join); if the change is real, retrain on recent data (run the train workflow).',
  outlier_rate:
    'Outliers: more inputs than usual lie far outside the training range (serving.outlier_z). Look for sentinel values or unit changes in the clients; retrain if such values are now normal.',
  error_rate:
    'Errors: the report counts failed requests by status. 4xx means clients send requests the model refuses (a changed schema?); 5xx or 503 means the servers fail or have no model: read their logs.',
  latency_p99_ms: 'Latency: the servers are slower than usual. Check their load and batch sizes, or deploy another server beside them.',
  class_psi:
    'Class shift: the model predicts a class mix unlike its training labels. Check the inputs for drift; if the population really changed, re-evaluate the version on fresh labels and retrain.',
};

/** Three significant digits at most: 6.95, 0.112, 0.05. */
const show = (v: number) => String(Number(v.toPrecision(3)));

export const describeBreach = (b: Breach) =>
  `${names[b.metric]}${b.feature ? ` of ${b.feature}` : ''} is ${show(b.value)}, above ${show(b.threshold)} (monitoring.thresholds.${b.metric})`;

function breachAlert(report: Omit<MonitorReport, 'unalerted'>, v: VersionReport): Alert {
  const { window } = report;
  const message = [
    `Model version ${v.version} breached ${v.breaches.length} monitoring threshold${v.breaches.length > 1 ? 's' : ''} over the ${window.duration} from ${window.start} to ${window.end} (${v.predictions} predictions, ${v.requests} requests):`,
    ...v.breaches.map((b) => `- ${describeBreach(b)}`),
  ].join('\n');
  const todo = [...new Set(v.breaches.map((b) => b.metric))].map((m) => `- ${advice[m]}`);
  return {
    runId: report.runId,
    step: alertStep(v.version),
    errorClass: 'quality',
    message,
    rekick: `mlops monitor --window ${window.duration}`,
    title: `mlops: model ${v.version} breached its monitoring thresholds`,
    advice: [
      'What to do:',
      ...todo,
      `- Check again with \`mlops monitor --window ${window.duration}\`; this issue is closed by the first monitor run that finds ${v.version} within every threshold.`,
    ],
  };
}

/**
 * Every version that breached alerts through the sinks (the log, the webhook, its GitHub issue);
 * every version judged and found within its thresholds closes its issue, as does the monitor
 * running at all for its own failure issue. A version with too little traffic to judge keeps its issue.
 * Returns the versions whose breach reached no sink but the log (no webhook, Issues off on a fork).
 */
export async function sendMonitorAlerts(ctx: StepContext, report: Omit<MonitorReport, 'unalerted'>): Promise<string[]> {
  const min = ctx.config.monitoring.min_volume;
  const unalerted: string[] = [];
  for (const v of report.versions.filter((v) => v.breaches.length)) {
    const alert = breachAlert(report, v);
    ctx.log.error(`monitor: ${alert.message.replace(/\n- /g, '; ')}`);
    if (!(await sendAlert(ctx, alert))) unalerted.push(v.version);
  }
  const clean = report.versions.filter((v) => !v.breaches.length && (v.predictions >= min || v.requests >= min));
  await notifyRecovered(ctx, [MONITOR_STEP, ...clean.map((v) => alertStep(v.version))]);
  return unalerted;
}
