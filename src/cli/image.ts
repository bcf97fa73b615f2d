import type { Command } from 'commander';
import { buildHostBase } from '../image/base.js';
import { buildImage } from '../image/build.js';
import { openDocker } from '../image/docker.js';
import { contextFrom, type GlobalOptions } from './context.js';

export function registerImage(cli: Command): void {
  cli
    .command('build')
    .description('bake a registry version (the champion by default) into a prediction image on image.base')
    .option('--version <ref>', 'a registry version or alias', 'champion')
    .action(async (opts: { version: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const built = await buildImage(ctx, { version: opts.version });
      process.stdout.write(`${built.image}\n`);
    });

  const image = cli.command('image').description('base images for the prediction image');
  image
    .command('base')
    .description("build a base image with no pull: this machine's node binary and the libraries it links (docker import)")
    .requiredOption('--from-host', 'take node from this machine (the only source for now)')
    .option('--tag <reference>', 'the image to create (default image.base)')
    .action(async (opts: { tag?: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const reference = opts.tag ?? ctx.config.image.base;
      const task = ctx.progress.start(`base image ${reference}`);
      const { bytes } = await buildHostBase(openDocker(ctx.env), reference, (line) => task.update(0, line));
      task.finish(`${Math.round(bytes / 2 ** 20)} MiB`);
      process.stdout.write(`${reference}\n`);
    });
}
