import { describe, expect, it } from 'vitest';
import { classify, describeError, exitCode, MlopsError } from '../src/errors.js';
import { withRetry } from '../src/runs/retry.js';

/** A file-system error as Node raises it. */
const fsError = (code: string, path: string) => Object.assign(new Error(`${code}: failed, write '${path}'`), { code, path });

describe('a full or read-only disk', () => {
  it('is a storage error naming the path and the fix, exit 6', () => {
    expect(describeError(fsError('ENOSPC', '/var/reg/v3/weights.bin'))).toBe(
      'error[storage]: cannot write /var/reg/v3/weights.bin: no space is left on its device (ENOSPC) (free space there, then rekick the run)',
    );
    expect(describeError(fsError('EDQUOT', '/home/ci/.mlops/run.json'))).toBe(
      'error[storage]: cannot write /home/ci/.mlops/run.json: the disk quota is used up (EDQUOT) (free space or raise the quota, then rekick the run)',
    );
    expect(describeError(fsError('EROFS', '/mnt/ro/.lock'))).toBe(
      'error[storage]: cannot write /mnt/ro/.lock: its file system is read-only (EROFS) (mount it writable, or point workdir or registry.path elsewhere)',
    );
    expect(exitCode(fsError('ENOSPC', '/x'))).toBe(6);
  });

  it('is told by its text where a library gives no code (DuckDB), keeping its message, which names the file', () => {
    const duckdb = new Error('IO Error: Could not write file "/w/runs/r1/extract/train.parquet": No space left on device');
    expect(describeError(duckdb)).toBe(
      'error[storage]: IO Error: Could not write file "/w/runs/r1/extract/train.parquet": No space left on device (free space there, then rekick the run)',
    );
  });

  it('is not retried, and leaves the step with its class', async () => {
    let attempts = 0;
    const err = await withRetry(
      async () => {
        attempts++;
        throw fsError('ENOSPC', '/x');
      },
      { attempts: 3, backoff_seconds: 0, max_backoff_seconds: 0 },
    ).catch((e: unknown) => e);
    expect(attempts).toBe(1);
    expect(err).toBeInstanceOf(MlopsError);
    expect((err as MlopsError).errorClass).toBe('storage');
  });

  it('leaves any other error as it is', () => {
    const other = fsError('EACCES', '/x');
    expect(classify(other)).toBe(other);
    expect(exitCode(other)).toBe(1);
  });
});
