import type { StepContext } from '../../context.js';
import type { ReleaseModeName } from '../../config/schema.js';
import { canary } from './canary.js';
import { direct } from './direct.js';
import { shadow } from './shadow.js';
import type { ReleaseStrategy } from './strategy.js';

/** Each release mode's strategy: a new mode is a file, and a line here. */
const strategies: Record<ReleaseModeName, (ctx: StepContext) => ReleaseStrategy> = { direct: () => direct, shadow, canary };

export const releaseStrategy = (ctx: StepContext, mode: ReleaseModeName = ctx.config.deploy.release): ReleaseStrategy =>
  strategies[mode](ctx);
