/**
 * Every failure the pipeline reports carries a class, because the class decides what happens next:
 * `transient` errors are retried, `data` and `quality` fail at once, `config` is the user's to fix,
 * `storage` (a full or read-only disk) too: a retry would fail the same way until space is freed.
 */
export type ErrorClass = 'config' | 'data' | 'quality' | 'transient' | 'storage';

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
  storage: 6,
};

/**
 * What a full or read-only disk means, and how to fix it: by errno code, or by the C library's
 * text for errors that carry no code (DuckDB's, which name the file in their message).
 */
const storageFaults = [
  { code: 'ENOSPC', text: 'No space left on device', what: 'no space is left on its device', fix: 'free space there, then rekick the run' },
  {
    code: 'EDQUOT',
    text: 'Disk quota exceeded',
    what: 'the disk quota is used up',
    fix: 'free space or raise the quota, then rekick the run',
  },
  {
    code: 'EROFS',
    text: 'Read-only file system',
    what: 'its file system is read-only',
    fix: 'mount it writable, or point workdir or registry.path elsewhere',
  },
];

/** `err` as an MlopsError when its class can be told from it (a full disk), else `err` as is. */
export function classify(err: unknown): unknown {
  if (err instanceof MlopsError || !(err instanceof Error)) return err;
  const { code, path, dest } = err as NodeJS.ErrnoException & { dest?: string };
  const fault = storageFaults.find((f) => code === f.code || err.message.includes(f.text));
  if (!fault) return err;
  const message = code === fault.code ? `cannot write ${dest ?? path ?? 'a file'}: ${fault.what} (${code})` : err.message;
  return new MlopsError('storage', message, { hint: fault.fix, cause: err });
}

/** The exit code for a failure, by its class. */
export function exitCode(err: unknown): number {
  const classified = classify(err);
  return classified instanceof MlopsError ? exitCodes[classified.errorClass] : exitCodes.internal;
}

/** One line for a user: the class, the message and the fix. Never a stack trace. */
export function describeError(failure: unknown): string {
  const err = classify(failure);
  if (err instanceof MlopsError) {
    return `error[${err.errorClass}]: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `error[internal]: ${message} (rerun with --debug for the stack trace, and please report it)`;
}
