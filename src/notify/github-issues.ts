import { getOctokit } from '@actions/github';
import type { StepContext } from '../context.js';
import { redact, registerSecret } from '../secrets.js';
import { workflowJob } from '../runs/rekick-hint.js';
import type { Alert } from './alert.js';

/**
 * Alerts as GitHub issues: one open issue per workflow and step, found again by a hidden marker in
 * its body (listing the label's open issues, not the search API, which lags behind new issues).
 * The workflow name is URI-encoded so that no name can be a prefix of another's marker.
 */
const workflowMarker = (workflow: string) => `<!-- mlops-alert:${encodeURIComponent(workflow)}:`;
const stepMarker = (workflow: string, step: string) => `${workflowMarker(workflow)}${step} -->`;
/** In every alert text, so that a run is commented at most once. */
const runMarker = (runId: string) => `<!-- mlops-run:${runId} -->`;

interface Target {
  octokit: ReturnType<typeof getOctokit>;
  /** Spread into every call: the repository, and one deadline so a hung API cannot hold up the run's outcome. */
  repo: { owner: string; repo: string; request: { signal: AbortSignal } };
  workflow: string;
  label: string;
  /** The workflow run's page and attempt, in a workflow. */
  run?: string;
  /** The workflow run's id (what rekick_run_id takes) and attempt. */
  runNumber?: string;
  attempt: string;
}

/** The repository to alert in: only in a workflow (a token and a repository) and with issue alerts on. */
function target(ctx: StepContext): Target | undefined {
  const { env } = ctx;
  const [, owner, repo] = /^([^/]+)\/([^/]+)$/.exec(env.GITHUB_REPOSITORY ?? '') ?? [];
  if (!env.GITHUB_TOKEN || !owner || !repo || !ctx.config.notify.github.issues) return undefined;
  registerSecret(env.GITHUB_TOKEN);
  const url = `${env.GITHUB_SERVER_URL || 'https://github.com'}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}`;
  return {
    octokit: getOctokit(env.GITHUB_TOKEN, { baseUrl: env.GITHUB_API_URL || 'https://api.github.com' }),
    repo: { owner, repo, request: { signal: AbortSignal.timeout(30_000) } },
    workflow: env.GITHUB_WORKFLOW || ctx.config.project,
    label: ctx.config.notify.github.label,
    run: env.GITHUB_RUN_ID && `${url} (attempt ${env.GITHUB_RUN_ATTEMPT || 1})`,
    runNumber: env.GITHUB_RUN_ID,
    attempt: env.GITHUB_RUN_ATTEMPT || '1',
  };
}

/** A failed API call: which call, and GitHub's status, which says what the user must change. */
class CallFailure extends Error {
  constructor(
    what: string,
    readonly status: number | undefined,
    message: string | undefined,
  ) {
    super(`could not ${what}: ${status ? `HTTP ${status} ` : ''}${message}`);
  }
}

/** Names the call that failed; octokit's message alone ("Not Found") does not say which. */
function call<T>(what: string, request: Promise<T>): Promise<T> {
  return request.catch((err: { message?: string; status?: number; response?: unknown }) => {
    throw new CallFailure(what, err.response ? err.status : undefined, err.message);
  });
}

/** What the user must change, by GitHub's answer: a fork has Issues off (410); a token without the permission gets 403. */
function fix(t: Target, err: unknown): string {
  const status = err instanceof CallFailure ? err.status : undefined;
  if (status === 410)
    return `Issues are disabled in ${t.repo.owner}/${t.repo.repo} (forks start with them off): turn them on under Settings > General > Features > Issues, or set notify.github.issues: false and alert through a webhook (the MLOPS_WEBHOOK_URL secret)`;
  if (status === 403)
    return "the workflow's token may not write issues: give the job `permissions: issues: write` (a pull request from a fork only ever gets a read-only token)";
  return "the workflow's token needs `permissions: issues: write`";
}

const warn = (ctx: StepContext, t: Target, err: unknown) =>
  ctx.log.warn(redact(`the GitHub issue alert was not sent: ${(err as Error).message}. ${fix(t, err)}`));

async function openAlerts(t: Target, marker: string) {
  const issues = await call(
    `list the open issues labelled ${t.label}`,
    t.octokit.paginate(t.octokit.rest.issues.listForRepo, { ...t.repo, labels: t.label, state: 'open', per_page: 100 }),
  );
  return issues.filter((i) => !i.pull_request && i.body?.includes(marker));
}

function failureText(t: Target, alert: Alert): string {
  if (alert.advice)
    return [runMarker(alert.runId), `${alert.message}${t.run ? `\n\nSeen by ${t.run}.` : ''}`, '', ...alert.advice].join('\n');
  return [
    runMarker(alert.runId),
    `Step \`${alert.step}\` of run \`${alert.runId}\` failed (${alert.errorClass})${t.run ? ` in ${t.run}` : ''}:`,
    '',
    '```text',
    alert.message,
    '```',
    '',
    'To rerun it:',
    '- open the workflow run and choose **Re-run failed jobs**;',
    `- or run the workflow (\`workflow_dispatch\`) with \`rekick_run_id=${t.runNumber}\` and \`from_step=${workflowJob(alert.step)}\`.`,
    '',
    `The run's files (the quarantine, the gate's decision, the ledger) are in this workflow run's artifact \`run-${workflowJob(alert.step)}-failed-attempt-${t.attempt}\`.`,
  ].join('\n');
}

/**
 * Opens the issue for this workflow and step, or comments on the one already open: one comment per
 * failed run. True when the alert is on an issue (now or by an earlier attempt), false when there is
 * no issue sink or it failed.
 */
export async function issueAlert(ctx: StepContext, alert: Alert): Promise<boolean> {
  const t = target(ctx);
  if (!t) return false;
  try {
    const marker = stepMarker(t.workflow, alert.step);
    const [open] = await openAlerts(t, marker);
    if (!open) {
      const { data } = await call(
        'open an issue',
        t.octokit.rest.issues.create({
          ...t.repo,
          title: alert.title ?? `mlops: ${t.workflow} failed at ${alert.step}`,
          labels: [t.label],
          body: `${marker}\n${failureText(t, alert)}`,
        }),
      );
      ctx.log.info(`alert issue #${data.number} opened: ${data.html_url}`);
      return true;
    }
    const issue = { ...t.repo, issue_number: open.number };
    const run = runMarker(alert.runId);
    const comments = () =>
      call(
        `list the comments of issue #${open.number}`,
        t.octokit.paginate(t.octokit.rest.issues.listComments, { ...issue, per_page: 100 }),
      );
    if (open.body?.includes(run) || (await comments()).some((c) => c.body?.includes(run))) return true;
    await call(`comment on issue #${open.number}`, t.octokit.rest.issues.createComment({ ...issue, body: failureText(t, alert) }));
    ctx.log.info(`alert issue #${open.number} commented: ${open.html_url}`);
    return true;
  } catch (err) {
    warn(ctx, t, err);
    return false;
  }
}

/** Closes the open alert issues of this workflow, of every step or of `steps`, with a comment naming the run that succeeded. */
export async function closeIssueAlerts(ctx: StepContext, steps?: string[]): Promise<void> {
  const t = target(ctx);
  if (!t) return;
  try {
    const issues = await openAlerts(t, workflowMarker(t.workflow));
    for (const open of issues.filter((i) => !steps || steps.some((step) => i.body?.includes(stepMarker(t.workflow, step))))) {
      const issue = { ...t.repo, issue_number: open.number };
      const body = `Recovered: run \`${ctx.runId}\` succeeded${t.run ? ` in ${t.run}` : ''}.`;
      await call(`comment on issue #${open.number}`, t.octokit.rest.issues.createComment({ ...issue, body }));
      await call(`close issue #${open.number}`, t.octokit.rest.issues.update({ ...issue, state: 'closed', state_reason: 'completed' }));
      ctx.log.info(`alert issue #${open.number} closed`);
    }
  } catch (err) {
    warn(ctx, t, err);
  }
}
