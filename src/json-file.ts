import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { MlopsError } from './errors.js';
import type { Logger } from './log.js';
import { processState } from './processes.js';
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
  const temp = tempName(file);
  try {
    await writeFile(temp, data, { mode });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    // A write through a file handle fails without a path (ENOSPC): the file's, for the message.
    throw Object.assign(err as NodeJS.ErrnoException, { path: (err as NodeJS.ErrnoException).path ?? file });
  }
}

/** A temporary name beside `file`, `<file>.<pid>-<hex>.tmp`: the writer's pid tells a killed writer's leftover from a live one's. */
export const tempName = (file: string) => `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;

/** True for a temporary file (tempName) whose writer is gone. The pid is taken to be of this host. */
export function abandonedTemp(name: string): boolean {
  const pid = /\.(\d+)-[0-9a-f]{8}\.tmp$/.exec(name)?.[1];
  return pid !== undefined && processState({ pid: Number(pid) }) === 'gone';
}

/** Removes the temporary files killed writers left under `dir` (a run's folder, the deploy folder), with a warning naming them. */
export async function removeAbandonedTemps(dir: string, log: Pick<Logger, 'warn'>): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const found = entries.filter((e) => e.isFile() && abandonedTemp(e.name)).map((e) => join(e.parentPath, e.name));
  if (!found.length) return;
  await Promise.all(found.map((path) => rm(path, { force: true })));
  log.warn(`removed the temporary files killed writers left: ${found.join(', ')}`);
}

const invalid = (file: string, what: string) =>
  new MlopsError('data', `${file} is not what this version expects: ${what}`, {
    code: 'file_invalid',
    hint: 'it was edited by hand, truncated, or written by another version; rerun the step that writes it',
  });
