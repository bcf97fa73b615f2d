import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stepDir, type StepContext } from './context.js';
import { configError } from './errors.js';

/** Steps talk only through these files, so any step can rerun alone from the one before's output. */
export async function writeArtifact(ctx: StepContext, step: string, file: string, value: unknown): Promise<string> {
  const dir = stepDir(ctx, step);
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
  return path;
}

export async function readArtifact<T>(ctx: StepContext, step: string, file: string): Promise<T> {
  const path = join(stepDir(ctx, step), file);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    throw configError(
      `run ${ctx.runId} has no ${step} output (${path})`,
      `run the ${step} step for this run first, e.g. \`mlops rekick ${ctx.runId} --from ${step}\``,
    );
  }
}
