import { getOctokit } from '@actions/github';
import type { StepContext } from '../context.js';
import { redact, registerSecret } from '../secrets.js';

/**
 * Starts the training workflow through `workflow_dispatch`, on the branch this workflow runs on
 * (the repository, token and branch from the context's environment).
 * Says what happened rather than throwing: the retirement it follows stands either way.
 */
export async function dispatchWorkflow(ctx: StepContext, workflow: string): Promise<string> {
  const { GITHUB_TOKEN: token, GITHUB_REPOSITORY = '', GITHUB_REF_NAME: ref = 'main', GITHUB_API_URL } = ctx.env;
  const [owner, repo] = GITHUB_REPOSITORY.split('/');
  if (!token || !owner || !repo) return `${workflow} not dispatched: GITHUB_TOKEN and GITHUB_REPOSITORY are needed`;
  registerSecret(token);
  const octokit = getOctokit(token, { baseUrl: GITHUB_API_URL || 'https://api.github.com' });
  try {
    await octokit.rest.actions.createWorkflowDispatch({
      owner,
      repo,
      workflow_id: workflow,
      ref,
      request: { signal: AbortSignal.timeout(30_000) },
    });
    ctx.log.info(`retraining: ${workflow} dispatched on ${ref}`);
    return `${workflow} dispatched on ${ref}`;
  } catch (err) {
    const e = err as { status?: number; message?: string };
    const why = redact(`${e.status ? `HTTP ${e.status} ` : ''}${e.message ?? String(err)}`);
    ctx.log.warn(`retraining: ${workflow} could not be dispatched: ${why} (the token needs \`permissions: actions: write\`)`);
    return `${workflow} not dispatched: ${why}`;
  }
}
