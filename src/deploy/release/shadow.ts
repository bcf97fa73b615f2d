import type { StepContext } from '../../context.js';
import { stagedRelease } from './staged.js';

/** deploy.shadow: `share` of live predictions mirrored to the new server; clients see only the champion's answers. */
export const shadow = (ctx: StepContext) => stagedRelease('shadow', ctx.config.deploy.shadow.share, ctx.config.deploy.shadow);
