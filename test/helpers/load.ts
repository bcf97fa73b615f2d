import { readFile } from 'node:fs/promises';
import type { StepContext } from '../../src/context.js';
import { rollout } from '../../src/deploy/rollout.js';

/** The shipped example request: one penguin. */
export const penguinRequest = await readFile('data/penguin-request.json', 'utf8');

export const predict = (url: string) =>
  fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: penguinRequest });

/**
 * Keeps `connections` prediction requests in flight against `url` until stopped; returns how many
 * succeeded, what the others got, and which backends answered (the proxy's x-mlops-backend).
 */
export function underLoad(url: string, connections = 8) {
  let running = true;
  const failures: string[] = [];
  const backends = new Set<string>();
  let ok = 0;
  const worker = async () => {
    while (running) {
      try {
        const res = await predict(url);
        await res.arrayBuffer();
        if (res.ok) ok++;
        else failures.push(String(res.status));
        backends.add(res.headers.get('x-mlops-backend') ?? '');
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const workers = Array.from({ length: connections }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { ok, failures, backends: [...backends] };
    },
  };
}

/**
 * Posts batches of 256 penguins from `connections` clients until `rows` predictions were answered,
 * and calls `kill` the moment the answer that reaches it arrives: batches keep the server's log
 * writer busy, so lines wait in its queue. Returns the rows answered before the kill; answers
 * arriving after it may have been sent after the kill began, and are not counted.
 */
export async function answeredUntilKilled(url: string, rows: number, kill: () => Promise<unknown>, connections = 20): Promise<number> {
  const body = JSON.stringify({ instances: Array.from({ length: 256 }, () => JSON.parse(penguinRequest) as unknown) });
  let answered = 0;
  let killed: Promise<unknown> | undefined;
  const client = async () => {
    while (!killed) {
      const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(
        () => undefined,
      );
      if (res?.status !== 200 || killed) continue;
      answered += 256;
      if (answered >= rows) killed = kill();
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  await killed;
  return answered;
}

/** Rolls `version` out while predictions go through `proxy`: what the rollout returned or threw, and what the clients got. */
export async function rolloutUnderLoad(ctx: StepContext, proxy: string, version: string) {
  const load = underLoad(proxy);
  const outcome = await rollout(ctx, version).catch((e: unknown) => e);
  return { outcome, ...(await load.stop()) };
}
