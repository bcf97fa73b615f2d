import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { Artifact } from './artifact-files.js';
import { stepDir, type StepContext } from './context.js';
import { configError, MlopsError } from './errors.js';
import { readJson, writeJson } from './json-file.js';
import { rekickHint } from './runs/rekick-hint.js';

/**
 * Steps talk only through these files, so any step can rerun alone from the one before's output.
 * Each is checked against its schema when written and when read (see json-file.ts).
 */
export async function writeArtifact<T>(ctx: StepContext, artifact: Artifact<T>, value: T): Promise<string> {
  const path = join(stepDir(ctx, artifact.step), artifact.file);
  await writeJson(path, artifact.schema, value);
  return path;
}

export async function readArtifact<T>(ctx: StepContext, artifact: Artifact<T>): Promise<T> {
  const path = join(stepDir(ctx, artifact.step), artifact.file);
  return readJson(path, artifact.schema).catch((err: unknown) => {
    if (!(err instanceof MlopsError && err.code === 'file_missing')) throw err;
    throw configError(
      `run ${ctx.runId} has no ${artifact.step} output (${path})`,
      `run the ${artifact.step} step for this run first: ${rekickHint(ctx, artifact.step)}`,
    );
  });
}

/** The artifact, or undefined when the step left none (a rejected model has no record); a bad file still fails. */
export function readArtifactIfAny<T>(ctx: StepContext, artifact: Artifact<T>): Promise<T | undefined> {
  return readJson<z.ZodType<T | undefined, unknown>>(join(stepDir(ctx, artifact.step), artifact.file), artifact.schema, () => undefined);
}

/** Removes what an earlier attempt of the step left, so that a reader never takes it for this attempt's. */
export async function removeArtifact(ctx: StepContext, artifact: Artifact<unknown>): Promise<void> {
  await rm(join(stepDir(ctx, artifact.step), artifact.file), { force: true });
}
