import autocannon from 'autocannon';
import { penguinRequest } from '../test/helpers/load.js';

/**
 * Runs `work` while autocannon sends single-record predictions to `url` on `connections`
 * connections; the load starts 2 s before it and goes on 2 s past it. What `work` threw is its outcome.
 */
export async function underLoad<T>(
  url: string,
  connections: number,
  work: () => Promise<T>,
): Promise<{ outcome: T | unknown; load: autocannon.Result }> {
  let finished!: (result: autocannon.Result) => void;
  const result = new Promise<autocannon.Result>((resolve) => (finished = resolve));
  const load = autocannon(
    {
      url: `${url}/predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: penguinRequest,
      connections,
      duration: 600,
    },
    (_err, r) => finished(r),
  );
  await new Promise((r) => setTimeout(r, 2000));
  const outcome = await work().catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 2000));
  load.stop();
  return { outcome, load: await result };
}
