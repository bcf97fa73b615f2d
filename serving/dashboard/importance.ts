import { importanceSchema, type Importance } from '../../src/model/card-fields.js';
import type { BackendPool } from '../backends.js';

/** What the champion relies on: its permutation importance, from its model card. */
export interface ChampionImportance {
  version: string;
  importance: Importance;
}

/**
 * The champion's permutation importance: the version most of the rotation's weight serves, its
 * importance read from one of its servers' /metadata once per version (a model card does not change).
 * Null while no server answers, or for a version evaluated before importance was measured.
 */
export function championImportance(pool: BackendPool, timeoutMs: number): () => Promise<ChampionImportance | null> {
  const known = new Map<string, Importance | null>();
  return async () => {
    const weight = new Map<string, number>();
    for (const b of pool.list()) if (b.healthy && b.weight > 0) weight.set(b.version, (weight.get(b.version) ?? 0) + b.weight);
    const version = [...weight.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (!version) return null;
    if (!known.has(version)) {
      const server = pool.list().find((b) => b.healthy && b.version === version)!;
      try {
        const res = await fetch(`${server.url}/metadata`, { signal: AbortSignal.timeout(timeoutMs) });
        const parsed = importanceSchema
          .nullable()
          .safeParse(res.ok ? ((await res.json()) as { importance?: unknown }).importance : undefined);
        // A server of an older version has no `importance` key at all: that is known too, and not asked again.
        if (parsed.success) known.set(version, parsed.data);
        else if (res.ok) known.set(version, null);
      } catch {
        return null; // unreachable now: the health checks report it, and the next snapshot asks again
      }
    }
    const importance = known.get(version);
    return importance ? { version, importance } : null;
  };
}
