import { measure } from '../format.js';
import type { Command } from 'commander';
import { readModelCard } from '../model/model-card.js';
import { contextFrom, type GlobalOptions } from './context.js';

const registryFrom = async (cmd: Command) => (await contextFrom(cmd.optsWithGlobals<GlobalOptions>())).registry;

const metric = (summary: Record<string, unknown>, name: string) =>
  measure((summary.metrics as Record<string, unknown> | undefined)?.[name]);

export function registerModels(cli: Command): void {
  const models = cli.command('models').description('the model registry: versions and the champion');

  models
    .command('list')
    .description('every version, newest first, with its aliases and key metrics')
    .action(async (_opts: object, cmd: Command) => {
      const registry = await registryFrom(cmd);
      const aliases = await registry.aliases();
      const versions = (await registry.versions()).reverse();
      if (versions.length === 0) return void process.stdout.write('no versions yet: `mlops run` records the first blessed model\n');
      const lines = ['version  aliases            created (UTC)        run                       accuracy  rmse'];
      for (const version of versions) {
        const manifest = await registry.manifest(version);
        const retired = (await registry.tags(version)).retired_at ? ['retired'] : [];
        const names = [
          ...Object.entries(aliases)
            .filter(([, v]) => v === version)
            .map(([k]) => k),
          ...retired,
        ].join(',');
        lines.push(
          `${version.padEnd(7)}  ${names.padEnd(17)}  ${manifest.createdAt.slice(0, 19).replace('T', ' ')}  ${manifest.runId.padEnd(24)}  ${metric(manifest.summary, 'accuracy').padStart(8)}  ${metric(manifest.summary, 'rmse')}`,
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    });

  models
    .command('show')
    .description('a version (or alias): its manifest, checksums verified, its permutation importance, and its tags')
    .argument('<ref>', 'a version such as v3, or an alias such as champion')
    .action(async (ref: string, _opts: object, cmd: Command) => {
      const registry = await registryFrom(cmd);
      const { manifest, dir } = await registry.open(ref);
      // What the model relies on, from its card (versions evaluated before there was one have none).
      const { importance } = await readModelCard(dir);
      // Tags: what was learnt later (image, digest, deployment, retirement).
      process.stdout.write(JSON.stringify({ ...manifest, dir, importance, tags: await registry.tags(manifest.version) }, null, 2) + '\n');
    });

  models
    .command('promote')
    .description('make a version the champion (the old champion becomes previous)')
    .argument('<ref>', 'a version such as v3')
    .action(async (ref: string, _opts: object, cmd: Command) => {
      const aliases = await (await registryFrom(cmd)).promote(ref);
      process.stdout.write(`champion ${aliases.champion}, previous ${aliases.previous ?? '-'}\n`);
    });

  models
    .command('rollback')
    .description('make the previous champion the champion again')
    .action(async (_opts: object, cmd: Command) => {
      const aliases = await (await registryFrom(cmd)).rollback();
      process.stdout.write(`champion ${aliases.champion}, previous ${aliases.previous ?? '-'}\n`);
    });
}
