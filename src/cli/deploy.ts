import { InvalidArgumentError, Option, type Command } from 'commander';
import { releaseModes, type ReleaseModeName } from '../config/schema.js';
import { rollback, rollout, undeploy } from '../deploy/rollout.js';
import { scale } from '../deploy/scale.js';
import { rate } from '../format.js';
import { pushImage } from '../image/push.js';
import { contextFrom, type GlobalOptions } from './context.js';
import type { DeployOutputs } from '../step-outputs.js';

/** What a release did, and the stage it passed first (shadow or canary). */
function released(out: DeployOutputs): string {
  const stage = out.release
    ? `${out.release.mode} passed: ${out.release.candidate.requests} requests, ${out.release.candidate.errors} failed, p99 ${out.release.candidate.p99_ms ?? '–'} ms (champion ${out.release.champion.p99_ms ?? '–'} ms)${out.release.agreement === null ? '' : `, agreement ${rate(out.release.agreement)}`}\n`
    : '';
  return `${stage}${out.version} serves on ${out.proxy} (${out.server.id}, rollout ${out.seconds.toFixed(1)}s; stopped ${out.stopped.join(', ') || 'none'})\n`;
}

/** A whole number of tasks, 1 or more. */
function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number of tasks, 1 or more; got ${JSON.stringify(value)}`);
  return n;
}

export function registerDeploy(cli: Command): void {
  cli
    .command('push')
    .description("push a version's prediction image to image.registry and record its digest on the version")
    .option('--version <ref>', 'a registry version or alias', 'champion')
    .action(async (opts: { version: string }, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const pushed = await pushImage(ctx, opts.version);
      process.stdout.write(pushed ? `${pushed.reference}\n` : 'image.registry is not set: nothing to push\n');
    });

  cli
    .command('deploy')
    .description('release a version beside the running servers behind the proxy, then retire the old ones (deploy.target)')
    .option('--version <ref>', 'a registry version or alias', 'champion')
    .addOption(new Option('--release <mode>', 'how it goes live (default deploy.release)').choices(releaseModes))
    .option('--replicas <n>', 'swarm: the tasks it runs (default deploy.replicas)', count)
    .action(async (opts: { version: string; release?: ReleaseModeName; replicas?: number }, cmd: Command) => {
      const overrides = { deploy: { replicas: opts.replicas, release: opts.release } };
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), undefined, overrides);
      const { version } = await ctx.registry.manifest(opts.version);
      process.stdout.write(released(await rollout(ctx, version, ctx.config.deploy.release)));
    });

  cli
    .command('scale')
    .description(
      'swarm: change how many tasks serve the live version, with no failed request; the proxy balances over them when it returns',
    )
    .argument('<replicas>', 'the number of tasks', count)
    .action(async (replicas: number, _opts: object, cmd: Command) => {
      const out = await scale(await contextFrom(cmd.optsWithGlobals<GlobalOptions>()), replicas);
      process.stdout.write(`${out.version} serves on ${out.replicas} tasks of ${out.server}\n`);
    });

  cli
    .command('rollback')
    .description('return traffic to the version that served before (a kept server starts again) and make it the champion')
    .action(async (_opts: object, cmd: Command) => {
      process.stdout.write(released(await rollback(await contextFrom(cmd.optsWithGlobals<GlobalOptions>()))));
    });

  cli
    .command('undeploy')
    .description('stop and remove every prediction server of the project, and its proxy; their prediction logs are kept')
    .action(async (_opts: object, cmd: Command) => {
      const removed = await undeploy(await contextFrom(cmd.optsWithGlobals<GlobalOptions>()));
      process.stdout.write(`removed ${removed.join(', ') || 'nothing'}\n`);
    });
}
