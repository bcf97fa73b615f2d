import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { configError } from '../errors.js';
import { engineError, followStream } from '../image/docker.js';
import { registryAuth, type RegistryAuth } from '../image/push.js';

/** The image registry's credentials from the environment, for pulls by the engine (or a swarm's nodes). */
export const pullAuth = (ctx: StepContext): RegistryAuth | undefined =>
  ctx.config.image.registry ? registryAuth(ctx.config.image.registry, ctx.env) : undefined;

/**
 * The image recorded for a version by build and push: the pushed reference (by digest) when there
 * is one, else the local tag. Pulled when the engine lacks it.
 */
export async function versionImage(ctx: StepContext, docker: Docker, version: string): Promise<{ image: string; pushed: boolean }> {
  const tags = await ctx.registry.tags(version);
  const image = tags.reference ?? tags.image;
  if (!image) throw configError(`${version} has no prediction image yet`, `build one with \`mlops build --version ${version}\``);
  const present = await docker
    .getImage(image)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (!present && tags.reference) {
    const auth = pullAuth(ctx);
    const stream = await docker.pull(image, auth ? { authconfig: auth } : {}).catch((err: unknown) => {
      throw engineError(docker, err, `pulling ${image}`);
    });
    await followStream(docker, stream, () => {});
  }
  return { image, pushed: Boolean(tags.reference) };
}
