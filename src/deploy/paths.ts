import { join, resolve } from 'node:path';
import type { StepContext } from '../context.js';

/** Where a deploy target keeps what it knows on this machine: `<workdir>/deploy`. */
export const deployDir = (ctx: StepContext) => join(resolve(ctx.configDir, ctx.config.workdir), 'deploy');

/** Where a deploy records the children it spawns until its own state holds them (child-records.ts). */
export const childRecordsDir = (ctx: StepContext) => join(deployDir(ctx), 'children');
