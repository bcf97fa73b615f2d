import { classify, MlopsError } from '../errors.js';

export interface RetryPolicy {
  attempts: number;
  backoff_seconds: number;
  max_backoff_seconds: number;
}

/** The wait before retry `n` (1-based): exponential, capped, with up to half taken off at random. */
export function backoffMs(policy: RetryPolicy, n: number, random = Math.random): number {
  const full = Math.min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (n - 1)) * 1000;
  return full * (1 - random() / 2);
}

/**
 * Runs `work`, retrying transient errors by the policy. Data, quality, config and storage errors
 * fail at once: trying again cannot fix them. Bugs (errors without a class) are not retried either.
 * A failure whose class can be told (a full disk's errno) leaves with it, for the ledger and alerts.
 */
export async function withRetry<T>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry: (attempt: number, error: MlopsError, waitMs: number) => void | Promise<void> = () => {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (failure) {
      const err = classify(failure);
      if (!(err instanceof MlopsError) || err.errorClass !== 'transient' || attempt >= policy.attempts) throw err;
      const wait = backoffMs(policy, attempt);
      await onRetry(attempt, err, wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
