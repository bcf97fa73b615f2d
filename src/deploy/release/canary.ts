import type { StepContext } from '../../context.js';
import { stagedRelease } from './staged.js';

/** deploy.canary: `weight` of live predictions answered by the new server, its failures retried on the champion. */
export const canary = (ctx: StepContext) => stagedRelease('canary', ctx.config.deploy.canary.weight, ctx.config.deploy.canary);
