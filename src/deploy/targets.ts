import type { StepContext } from '../context.js';
import { configError } from '../errors.js';
import { DockerFleet } from './docker.js';
import type { DeployTarget } from '../config/schema.js';
import type { Fleet } from './fleet.js';
import { LocalFleet } from './local.js';
import { SwarmFleet } from './swarm.js';

/** Each deploy target's fleet: a new target is a module with its Fleet, and a line here. */
const targets: Record<DeployTarget, (ctx: StepContext) => Fleet | Promise<Fleet>> = {
  local: (ctx) => new LocalFleet(ctx),
  docker: (ctx) => DockerFleet.open(ctx),
  swarm: (ctx) => SwarmFleet.open(ctx),
};

/** Whether deploy.target names a fleet: `none` means there is none, and nothing is deployed. */
export const hasFleet = (ctx: StepContext): boolean => ctx.config.deploy.target !== 'none';

/** The servers of deploy.target, ready to be asked (an engine has answered). */
export async function openFleet(ctx: StepContext): Promise<Fleet> {
  const target = ctx.config.deploy.target;
  if (target === 'none')
    throw configError('deploy.target is none: there is nothing to deploy to', `set deploy.target to ${Object.keys(targets).join(' or ')}`);
  return targets[target](ctx);
}
