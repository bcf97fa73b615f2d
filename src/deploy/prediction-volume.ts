import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { z } from 'zod';
import type { StepContext } from '../context.js';
import { projectFilter, projectLabels } from './labels.js';
import { PREDICTIONS_DIR } from '../image/context.js';
import { parseJson } from '../json-file.js';
import { lastWords } from '../processes.js';
import { containerFileLines, demux } from './docker-exec.js';
import type { LogFile } from './server-logs.js';
import { dockerName } from '../docker-name.js';

/**
 * deploy.target docker keeps the prediction logs on a named volume of the Docker host,
 * `<project>-predictions`, mounted into every server container at PREDICTIONS_DIR; each server
 * writes `<server id>.jsonl` there. The volume outlives the containers, so retiring a server never
 * takes its predictions with it, and `mlops undeploy` keeps it: it is the data.
 */
export const predictionVolume = (ctx: StepContext) => dockerName(ctx.config.project, 'predictions');

/** The volume as a server container mounts it, and where that server writes. */
export async function predictionMount(ctx: StepContext, docker: Docker, server: string): Promise<{ bind: string; log: string }> {
  const name = predictionVolume(ctx);
  // Creating a volume that exists returns it as it is.
  await docker.createVolume({ Name: name, Labels: projectLabels(ctx.config.project, 'predictions') });
  return { bind: `${name}:${PREDICTIONS_DIR}`, log: `${PREDICTIONS_DIR}/${server}.jsonl` };
}

/** Lists the folder as JSON: name and last write of each file. */
const LIST = `const fs = require('fs');
const files = [];
for (const name of fs.readdirSync(process.argv[1])) {
  try {
    const s = fs.statSync(process.argv[1] + '/' + name);
    if (s.isFile()) files.push({ name, mtime: s.mtime.toISOString() });
  } catch {} // rotated away meanwhile
}
process.stdout.write(JSON.stringify(files));`;

const listing = z.array(z.object({ name: z.string(), mtime: z.string() }));

/**
 * A container that reads the volume for this side, which may be far away (an ssh DOCKER_HOST):
 * it mounts the volume read-only and files come out through the engine's archive API; the caller
 * removes it. Made of the project's newest image, which servers ran from; with none left on the
 * engine there is nothing to read with (undefined).
 */
async function createReader(ctx: StepContext, docker: Docker, cmd?: string[]): Promise<Docker.Container | undefined> {
  const images = await docker.listImages({ filters: { label: projectFilter(ctx.config.project) } });
  const image = images.sort((a, b) => b.Created - a.Created)[0];
  if (!image) {
    ctx.log.warn(`no image of ${ctx.config.project} is left on the Docker engine to read the volume ${predictionVolume(ctx)} with`);
    return undefined;
  }
  return docker.createContainer({
    name: `${predictionVolume(ctx)}-reader-${randomBytes(3).toString('hex')}`,
    Image: image.Id,
    Entrypoint: ['node'],
    Cmd: cmd,
    Labels: projectLabels(ctx.config.project, 'log-reader'),
    HostConfig: { NetworkMode: 'none', Binds: [`${predictionVolume(ctx)}:${PREDICTIONS_DIR}:ro`] },
  });
}

/** The files on the volume; none when the project has no volume yet. */
export async function volumeFiles(ctx: StepContext, docker: Docker): Promise<LogFile[]> {
  const exists = await docker
    .getVolume(predictionVolume(ctx))
    .inspect()
    .then(
      () => true,
      (err: { statusCode?: number }) => {
        if (err.statusCode === 404) return false;
        throw err;
      },
    );
  const reader = exists ? await createReader(ctx, docker, ['-e', LIST, PREDICTIONS_DIR]) : undefined;
  if (!reader) return [];
  try {
    await reader.start();
    const { StatusCode } = (await reader.wait()) as { StatusCode: number };
    const output = (await reader.logs({ stdout: true, stderr: true })) as unknown as Buffer;
    const where = `the listing of the Docker volume ${predictionVolume(ctx)}`;
    if (StatusCode !== 0) throw new Error(`${where} failed: ${lastWords(demux(output, new Set([2])))}`);
    return parseJson(where, demux(output, new Set([1])), listing);
  } finally {
    await reader.remove({ force: true });
  }
}

/** The lines of files on the volume, in turn. */
export async function* volumeLines(ctx: StepContext, docker: Docker, files: string[]): AsyncIterable<string> {
  const reader = await createReader(ctx, docker);
  if (!reader) return;
  try {
    for (const file of files) yield* containerFileLines(docker, reader.id, `${PREDICTIONS_DIR}/${file}`);
  } finally {
    await reader.remove({ force: true });
  }
}
