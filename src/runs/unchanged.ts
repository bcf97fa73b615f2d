import { configHash } from '../config/load.js';
import type { StepContext } from '../context.js';
import { describeError } from '../errors.js';
import { cleanCommit } from '../lineage.js';
import { readModelCard } from '../model/model-card.js';

/**
 * The champion's version when this run would train it again: the same clean data, config and code
 * as its lineage records (the code is the commit, clean). A scheduled run on a fixed batch then ends early instead of registering an
 * identical version every day (the batch training pattern's idempotent rerun). A registry that
 * cannot be read is no reason to skip training: it is warned about and the run goes on.
 */
export async function unchangedChampion(ctx: StepContext, dataHash: string): Promise<string | undefined> {
  try {
    const { registry } = ctx;
    if (!(await registry.resolve('champion'))) return undefined;
    const { manifest, dir } = await registry.open('champion');
    const { lineage } = await readModelCard(dir);
    // Code that cannot be named, or has uncommitted edits, is new code.
    const code = cleanCommit(ctx.configDir, ctx.env);
    const same = code === lineage.gitSha && lineage.dataHash === dataHash && lineage.configHash === configHash(ctx.config);
    return same ? manifest.version : undefined;
  } catch (err) {
    ctx.log.warn(`could not compare this run with the champion, so it trains: ${describeError(err)}`);
    return undefined;
  }
}
