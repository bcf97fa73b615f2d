import type Docker from 'dockerode';
import { writeArtifact } from '../artifacts.js';
import { pushFile } from '../artifact-files.js';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { registerSecret } from '../secrets.js';
import { forContainers } from './build.js';
import { engineError, followStream, openDocker, pingEngine, StreamError } from './docker.js';
import type { PushOutputs } from '../step-outputs.js';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/**
 * Credentials for the image registry, from the environment `env` only: MLOPS_REGISTRY_USERNAME with
 * MLOPS_REGISTRY_PASSWORD or MLOPS_REGISTRY_TOKEN; for ghcr.io, GITHUB_ACTOR with GITHUB_TOKEN as
 * in a workflow. None means an anonymous push. Every value is registered as a secret first.
 */
export function registryAuth(registry: string, env: NodeJS.ProcessEnv): RegistryAuth | undefined {
  const serveraddress = registry.split('/')[0]!;
  const ghcr = serveraddress === 'ghcr.io';
  const password = env.MLOPS_REGISTRY_PASSWORD || env.MLOPS_REGISTRY_TOKEN || (ghcr ? env.GITHUB_TOKEN : undefined);
  if (!password) return undefined;
  registerSecret(password);
  const username = env.MLOPS_REGISTRY_USERNAME || (ghcr ? env.GITHUB_ACTOR : undefined) || 'token';
  return { username, password, serveraddress };
}

/** Pushes a tagged image and returns its digest; a refusal inside the stream fails, naming the registry. */
export async function pushTo(docker: Docker, image: string, auth: RegistryAuth | undefined): Promise<string> {
  const [repository, tag] = splitTag(image);
  const registry = repository.split('/')[0]!;
  try {
    const stream = await docker.getImage(image).push({ tag, ...(auth ? { authconfig: auth } : {}) } as object);
    const events = await followStream(docker, stream, () => {});
    const digest = events.find((e) => e.aux?.Digest)?.aux?.Digest;
    if (!digest) throw new MlopsError('transient', `the push of ${image} ended without a digest from ${registry}`);
    return digest;
  } catch (err) {
    if (!(err instanceof StreamError)) throw engineError(docker, err, `pushing ${image}`);
    if (/unauthori[sz]ed|authentication required|denied|forbidden/i.test(err.message))
      throw configError(
        `the registry ${registry} refused the push of ${image}: ${err.message}`,
        auth
          ? `check the credentials in MLOPS_REGISTRY_USERNAME and MLOPS_REGISTRY_PASSWORD (or _TOKEN) for ${registry}`
          : `set MLOPS_REGISTRY_USERNAME and MLOPS_REGISTRY_PASSWORD (or _TOKEN) for ${registry}`,
      );
    // Anything else in the stream (a network blip, a full disk on the registry) may pass on a retry.
    throw new MlopsError('transient', `pushing ${image} to ${registry} failed: ${err.message}`, { cause: err });
  }
}

/** `host:5000/name:tag` -> [`host:5000/name`, `tag`]: the tag is after the last colon past the last slash. */
function splitTag(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
}

/** The push step: push the image of the version it recorded. */
export const pushStep = forContainers(pushImage);

/**
 * Push the image built for a registry version to `image.registry` and record its
 * reference and digest on the version ("store the model and server"). Without a registry it is skipped.
 */
export async function pushImage(ctx: StepContext, ref = 'champion'): Promise<PushOutputs | undefined> {
  const registryName = ctx.config.image.registry;
  if (!registryName) return undefined;
  const { registry } = ctx;
  const manifest = await registry.manifest(ref);
  const image = (await registry.tags(manifest.version)).image;
  if (!image)
    throw configError(`${manifest.version} has no prediction image yet`, `build one with \`mlops build --version ${manifest.version}\``);
  const docker = openDocker(ctx.env);
  await pingEngine(docker, `pushing ${image}`);
  const task = ctx.progress.start(`push ${image}`);
  const digest = await pushTo(docker, image, registryAuth(registryName, ctx.env)).catch((err: unknown) => {
    task.finish('failed');
    throw err;
  });
  task.finish(digest);
  const result: PushOutputs = { image, digest, reference: `${splitTag(image)[0]}@${digest}` };
  await registry.tag(manifest.version, { digest, reference: result.reference });
  await writeArtifact(ctx, pushFile, result);
  ctx.log.info(`push: ${result.reference}`);
  return result;
}
