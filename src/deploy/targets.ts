import type { StepContext } from '../context.js';
import { configError } from '../errors.js';
import { addTargetSupport, builtInTargets, deployTargets, type BuiltInTarget, type TargetSupport } from '../target-support.js';
import { DockerFleet } from './docker.js';
import type { Fleet } from './fleet.js';
import { LocalFleet } from './local.js';
import { SwarmFleet } from './swarm.js';

/** Opens a target's fleet, ready to be asked (an engine has answered). */
export type OpenFleet = (ctx: StepContext) => Fleet | Promise<Fleet>;

/**
 * Each deploy target's fleet. A target is a module with its Fleet, a line here and its line in
 * target-support.ts (which the config reads without loading the fleets); one outside this project
 * registers itself with registerTarget.
 */
const builtIn: Record<BuiltInTarget, OpenFleet> = {
  local: (ctx) => new LocalFleet(ctx),
  docker: (ctx) => DockerFleet.open(ctx),
  swarm: (ctx) => SwarmFleet.open(ctx),
};
const targets = new Map<string, OpenFleet>(builtInTargets.map((t) => [t, builtIn[t]]));

/** Adds a deploy target: deploy.target `name` then opens its fleet with `open`, and the config's rules follow `supports`. */
export function registerTarget(name: string, supports: TargetSupport, open: OpenFleet): void {
  addTargetSupport(name, supports);
  targets.set(name, open);
}

/** Whether deploy.target names a fleet: `none` means there is none, and nothing is deployed. */
export const hasFleet = (ctx: StepContext): boolean => ctx.config.deploy.target !== 'none';

/** The servers of deploy.target, ready to be asked (an engine has answered). */
export async function openFleet(ctx: StepContext): Promise<Fleet> {
  const target = ctx.config.deploy.target;
  const open = targets.get(target);
  if (!open)
    throw configError(
      target === 'none' ? 'deploy.target is none: there is nothing to deploy to' : `deploy.target ${target} is no target`,
      `set deploy.target to ${deployTargets().join(' or ')}`,
    );
  return open(ctx);
}
