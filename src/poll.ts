/**
 * Asks `done` every `everyMs` until it says yes; past `timeoutMs`, `expired` decides: it throws the
 * caller's error, or acts (a SIGKILL) and returns. `done` may throw to give up early, for a process
 * that exited while it was awaited.
 */
export async function pollUntil(
  timeoutMs: number,
  done: () => boolean | Promise<boolean>,
  expired: () => void | Promise<void>,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) return expired();
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
