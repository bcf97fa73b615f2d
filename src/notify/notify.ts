import type { StepContext } from '../context.js';
import { MlopsError } from '../errors.js';
import { redact } from '../secrets.js';
import { rekickHint } from '../runs/rekick-hint.js';
import type { Alert } from './alert.js';
import { closeIssueAlerts, issueAlert } from './github-issues.js';

export function alertFor(ctx: StepContext, step: string, error: unknown): Alert {
  return {
    runId: ctx.runId,
    step,
    errorClass: error instanceof MlopsError ? error.errorClass : 'internal',
    message: redact(error instanceof Error ? error.message : String(error)),
    rekick: rekickHint(ctx, step),
  };
}

/** Slack-compatible: `text` for any webhook, blocks for Slack, the fields for everything else. */
export function webhookPayload(project: string, alert: Alert): Record<string, unknown> {
  const text = alert.advice
    ? `:rotating_light: ${project}: ${alert.message}\n${alert.advice.map((a) => `• ${a}`).join('\n')}`
    : `:rotating_light: ${project}: step *${alert.step}* of run \`${alert.runId}\` failed (${alert.errorClass}): ${alert.message}\nTo resume: ${alert.rekick}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }], mlops: alert };
}

/**
 * Tells every configured sink that a run failed: the log always, the webhook when one is set, and
 * GitHub issues in a workflow. A sink that fails is logged and never hides the run's own error.
 */
export async function notifyFailure(ctx: StepContext, alert: Alert): Promise<void> {
  ctx.log.error(`run ${alert.runId} failed at step ${alert.step} (${alert.errorClass}): ${alert.message}`, { rekick: alert.rekick });
  await sendAlert(ctx, alert);
}

/**
 * Sends an alert to the webhook and GitHub issues; logging it is the caller's. Never throws. True
 * when at least one of them has it: a person will see it beyond the log.
 */
export async function sendAlert(ctx: StepContext, alert: Alert): Promise<boolean> {
  return (await Promise.all([sendWebhook(ctx, alert), issueAlert(ctx, alert)])).some(Boolean);
}

/**
 * Tells the sinks that keep alerts open (GitHub issues) that the workflow works again: all its
 * alerts, or those of the given steps only. Never throws.
 */
export async function notifyRecovered(ctx: StepContext, steps?: string[]): Promise<void> {
  await closeIssueAlerts(ctx, steps);
}

async function sendWebhook(ctx: StepContext, alert: Alert): Promise<boolean> {
  const url = ctx.config.notify.webhook.url;
  if (!url) return false;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(webhookPayload(ctx.config.project, alert)),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return true;
  } catch (err) {
    ctx.log.warn(`the webhook alert could not be sent: ${redact((err as Error).message)}`);
    return false;
  }
}
