import type { StepContext } from '../context.js';
import { retiredAmong } from '../retirement/retirement.js';
import { fallback, rollout } from './rollout.js';
import { hasFleet, openFleet } from './targets.js';
import type { RetiredServers } from '../step-outputs.js';

/**
 * Takes away the servers of retired versions, never the last healthy one. When only retired
 * versions serve, the newest version that is neither serving nor retired is rolled out first (its
 * kept server, or the registry's `previous`), which drains them; with none, they keep serving.
 */
export async function removeRetiredServers(ctx: StepContext): Promise<RetiredServers> {
  if (!hasFleet(ctx)) return { removed: [], kept: [] };
  const fleet = await openFleet(ctx);
  const { registry } = ctx;
  const servers = await fleet.list();
  const retired = await retiredAmong(
    registry,
    servers.map((s) => s.version),
  );
  const running = servers.filter((s) => s.running);
  const doomed = running.filter((s) => retired.has(s.version));
  const healthy = running.filter((s) => !retired.has(s.version));

  if (doomed.length && !healthy.length) {
    const replacement = await fallback(registry, servers, new Set(running.map((s) => s.version)));
    if (!replacement) {
      ctx.log.warn(`only retired versions serve (${doomed.map((s) => s.id).join(', ')}); they keep serving until a new model is released`);
      return { removed: [], kept: doomed.map((s) => s.id) };
    }
    const replacedBy = await rollout(ctx, replacement);
    return { removed: replacedBy.removed, replacedBy, kept: [] };
  }
  const proxy = doomed.length ? await fleet.proxy(healthy[0]!.version) : undefined;
  const removed = [...doomed, ...servers.filter((s) => !s.running && retired.has(s.version))];
  for (const s of removed) {
    if (s.running) {
      await fleet.evict(proxy!, s);
      await fleet.stop(s);
    }
    await fleet.remove(s);
  }
  return { removed: removed.map((s) => s.id), kept: [] };
}
