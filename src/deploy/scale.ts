import type { StepContext } from '../context.js';
import { configError } from '../errors.js';
import { deployTargets, targetSupport } from '../target-support.js';
import { openFleet } from './targets.js';

/** Changes how many tasks serve the live version (deploy.target swarm); the proxy balances over them when it returns. */
export async function scale(ctx: StepContext, replicas: number): Promise<{ server: string; version: string; replicas: number }> {
  const fleet = await openFleet(ctx);
  if (!fleet.supports.scaling || !fleet.scale)
    throw configError(
      `deploy.target ${fleet.target} runs one server per version: there is nothing to scale`,
      `deploy.target ${deployTargets()
        .filter((t) => targetSupport(t)!.scaling)
        .join(' or ')} runs deploy.replicas tasks of each`,
    );
  const live = (await fleet.list()).find((s) => s.running);
  if (!live) throw configError('no version serves: there is nothing to scale', 'deploy one first (`mlops deploy`)');
  const task = ctx.progress.start(`scale ${live.id} to ${replicas}`);
  await fleet.scale(await fleet.proxy(live.version), live, replicas);
  task.finish(`${replicas} tasks in rotation`);
  return { server: live.id, version: live.version, replicas };
}
