import type { Pack } from 'tar-stream';
import type Docker from 'dockerode';
import { readArtifactIfAny, writeArtifact } from '../artifacts.js';
import { buildFile, recordFile } from '../artifact-files.js';
import type { Config } from '../config/schema.js';
import type { StepContext } from '../context.js';
import { LABEL } from '../deploy/labels.js';
import { configError } from '../errors.js';
import { gitSha } from '../lineage.js';
import { buildContext } from './context.js';
import { engineError, followStream, openDocker, pingEngine, StreamError, type StreamEvent } from './docker.js';
import { dockerName } from '../docker-name.js';
import type { BuildOutputs } from '../step-outputs.js';
import { targetSupport } from '../target-support.js';

/** The image's repository: `image.name`, else `<project>-server`, under `image.registry` when set. */
export function imageRepository(config: Config): string {
  const name = config.image.name ?? dockerName(config.project, 'server');
  // A repository path is lower case, and a GitHub owner in ghcr.io/OWNER may not be.
  return config.image.registry ? `${config.image.registry.replace(/\/$/, '').toLowerCase()}/${name}` : name;
}

/** OCI annotations, and mlops labels a deployer can find containers and versions by. */
function labels(ctx: StepContext, version: string, runId: string, metrics: Record<string, unknown>): Record<string, string> {
  const { GITHUB_REPOSITORY, GITHUB_SERVER_URL = 'https://github.com' } = ctx.env;
  const source = GITHUB_REPOSITORY ? `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}` : '';
  return {
    'org.opencontainers.image.title': imageRepository(ctx.config),
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.revision': gitSha(ctx.configDir, ctx.env),
    'org.opencontainers.image.created': new Date().toISOString(),
    ...(source ? { 'org.opencontainers.image.source': source } : {}),
    [LABEL.project]: ctx.config.project,
    [LABEL.version]: version,
    [LABEL.runId]: runId,
    ...Object.fromEntries(
      Object.entries(metrics)
        .filter(([, v]) => typeof v === 'number')
        .map(([k, v]) => [LABEL.metric(k), String(v)]),
    ),
  };
}

/**
 * Runs a build on the engine and follows its stream. A failure inside the stream (HTTP 200 with an
 * error) fails the build naming the instruction that was running; one at FROM names the base.
 */
export async function runBuild(
  docker: Docker,
  tar: Pack,
  options: { t: string; labels?: Record<string, string> },
  base: string,
  onStep: (instruction: string) => void,
): Promise<StreamEvent[]> {
  try {
    // tar-stream's Pack is a streamx Readable, which Node streams accept; only the types differ.
    const stream = await docker.buildImage(tar as unknown as NodeJS.ReadableStream, { ...options, rm: true, forcerm: true });
    return await followStream(docker, stream, (e) => e.stream?.startsWith('Step ') && onStep(e.stream.trim()));
  } catch (err) {
    if (!(err instanceof StreamError)) throw engineError(docker, err, `building ${options.t}`);
    const step = [...err.events]
      .reverse()
      .find((e) => e.stream?.startsWith('Step '))
      ?.stream?.trim();
    if (!step || step.includes(' : FROM '))
      throw configError(
        `the base image ${base} is not available: ${err.message}`,
        'build one from this machine with `mlops image base --from-host`, or set image.base to an image you can pull',
      );
    throw configError(`the image build failed at "${step}": ${err.message}`);
  }
}

/**
 * An image step of a run: it works on the version the record step stored, and only containers
 * need an image. Skipped (undefined) otherwise.
 */
export function forContainers<T>(work: (ctx: StepContext, version: string) => Promise<T>) {
  return async (ctx: StepContext): Promise<T | undefined> => {
    if (!targetSupport(ctx.config.deploy.target)?.image) return undefined;
    const recorded = await readArtifactIfAny(ctx, recordFile);
    return recorded && work(ctx, recorded.version);
  };
}

/** The build step: the image of the version it recorded. */
export const buildStep = forContainers((ctx, version) => buildImage(ctx, { version }));

/**
 * Bake a registry version (the champion by default) into a prediction image: the bundled
 * server, the model and the serving config on `image.base`, with OCI and mlops labels.
 */
export async function buildImage(ctx: StepContext, options: { version?: string } = {}): Promise<BuildOutputs> {
  const { registry } = ctx;
  const { manifest, dir } = await registry.open(options.version ?? 'champion');
  const base = ctx.config.image.base;
  const image = `${imageRepository(ctx.config)}:${manifest.version}`;
  const docker = openDocker(ctx.env);
  await pingEngine(docker, `building ${image}`);
  const tar = await buildContext({ base, modelDir: dir, serving: ctx.config.serving });
  const imageLabels = labels(ctx, manifest.version, manifest.runId, (manifest.summary.metrics ?? {}) as Record<string, unknown>);
  const task = ctx.progress.start(`build ${image}`);
  let step = 0;
  const events = await runBuild(docker, tar, { t: image, labels: imageLabels }, base, (line) => task.update(++step, line)).catch(
    (err: unknown) => {
      task.finish('failed');
      throw err;
    },
  );
  const id = events.find((e) => e.aux?.ID)?.aux?.ID ?? '';
  const info = await docker.getImage(image).inspect();
  task.finish(`${image} ${Math.round(info.Size / 2 ** 20)} MiB`);
  const result: BuildOutputs = { image, id, sizeBytes: info.Size, base, modelVersion: manifest.version, labels: imageLabels };
  await registry.tag(manifest.version, { image });
  await writeArtifact(ctx, buildFile, result);
  ctx.log.info(`build: ${image} (${id.slice(7, 19)}), ${Math.round(info.Size / 2 ** 20)} MiB on ${base}`);
  return result;
}
