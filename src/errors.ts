/**
 * Every failure the pipeline reports carries a class, because the class decides what happens next:
 * `transient` errors are retried, `data` and `quality` fail at once, `config` is the user's to fix.
 */
export type ErrorClass = 'config' | 'data' | 'quality' | 'transient';

/** Failures that callers react to, beyond their class. */
export type ErrorCode = 'file_missing' | 'file_invalid' | 'checksum_mismatch' | 'no_rows';

export class MlopsError extends Error {
  readonly errorClass: ErrorClass;
  /** How to fix it, shown after the message. */
  readonly hint?: string;
  /** What went wrong, for code that must tell errors apart: never match the message text. */
  readonly code?: ErrorCode;

  constructor(errorClass: ErrorClass, message: string, options: { hint?: string; cause?: unknown; code?: ErrorCode } = {}) {
    super(message, { cause: options.cause });
    this.name = 'MlopsError';
    this.errorClass = errorClass;
    this.hint = options.hint;
    this.code = options.code;
  }
}

export const configError = (message: string, hint?: string) => new MlopsError('config', message, { hint });
export const dataError = (message: string, hint?: string) => new MlopsError('data', message, { hint });

/** Exit codes by class, so scripts and workflows can tell a bad config from a flaky database. */
export const exitCodes: Record<ErrorClass | 'internal', number> = {
  internal: 1,
  config: 2,
  data: 3,
  quality: 4,
  transient: 5,
};

/** One line for a user: the class, the message and the fix. Never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof MlopsError) {
    return `error[${err.errorClass}]: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `error[internal]: ${message} (rerun with --debug for the stack trace, and please report it)`;
}
