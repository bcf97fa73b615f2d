import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { MlopsError } from './errors.js';
import { describeIssue } from './schema-issue.js';

/**
 * Every file one step writes and another reads goes through here: checked against its schema on
 * write (a bug of ours fails before anything is saved) and on read (a hand-edited, truncated or
 * older file is a *data* error naming the file and its first bad key, never a crash deeper in).
 */

/** Parses `text`, the contents of `file`, against `schema`. */
export function parseJson<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON (${(err as Error).message})`);
  }
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw invalid(file, describeIssue(result.error.issues[0]!, value));
  return result.data;
}

/** Reads and checks a JSON file; a missing file is a `file_missing` data error unless `missing` gives a default. */
export async function readJson<S extends z.ZodType>(file: string, schema: S, missing?: () => z.output<S>): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (missing) return missing();
    throw new MlopsError('data', `${file} does not exist`, { code: 'file_missing' });
  }
  return parseJson(file, text, schema);
}

/** Checks `value` and writes it atomically: to a temporary name, then renamed into place. `mode` 0o600 keeps a secret the owner's. */
export async function writeJson<S extends z.ZodType>(file: string, schema: S, value: z.input<S>, mode?: number): Promise<void> {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`refusing to write ${file}: ${describeIssue(result.error.issues[0]!, value)}`);
  await writeAtomic(file, JSON.stringify(value, null, 2) + '\n', mode);
}

export async function writeAtomic(file: string, data: string | Buffer, mode?: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { mode });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    // A write through a file handle fails without a path (ENOSPC): the file's, for the message.
    throw Object.assign(err as NodeJS.ErrnoException, { path: (err as NodeJS.ErrnoException).path ?? file });
  }
}

const invalid = (file: string, what: string) =>
  new MlopsError('data', `${file} is not what this version expects: ${what}`, {
    code: 'file_invalid',
    hint: 'it was edited by hand, truncated, or written by another version; rerun the step that writes it',
  });
