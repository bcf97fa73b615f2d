import { resolve } from 'node:path';
import type { Command } from 'commander';
import { preferredBackend } from '../model/backend.js';
import { registerSecret } from '../secrets.js';
import { closeOnSignal, startServer } from '../../serving/server.js';
import { contextFrom, type GlobalOptions } from './context.js';

export function registerServe(cli: Command): void {
  cli
    .command('serve')
    .description('serve predictions on 127.0.0.1: the champion from the registry (hot-swapped), or a fixed model folder')
    .option('-p, --port <port>', 'the port (default serving.port; 0 picks a free one)', (v) => Number(v))
    .option('--model-dir <dir>', 'serve this model folder as is (model-in-image mode)')
    .option('--registry <alias>', 'follow this registry alias and swap in new versions (model-load mode)', 'champion')
    .option('--prediction-log <file>', 'write the prediction log here instead of serving.log.path (one file per server)')
    .action(async (opts: { port?: number; modelDir?: string; registry: string; predictionLog?: string }, cmd: Command) => {
      const overrides = { serving: { port: opts.port, log: { path: opts.predictionLog && resolve(opts.predictionLog) } } };
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>(), undefined, overrides);
      const adminToken = ctx.env.MLOPS_ADMIN_TOKEN || undefined;
      if (adminToken) registerSecret(adminToken);
      const server = await startServer({
        serving: ctx.config.serving,
        configDir: ctx.configDir,
        logger: ctx.log,
        adminToken,
        backend: preferredBackend(ctx.env),
        source: opts.modelDir
          ? { kind: 'dir', dir: resolve(opts.modelDir) }
          : { kind: 'registry', registry: ctx.registry, alias: opts.registry },
        poll: !opts.modelDir,
      });
      process.stdout.write(`${server.url}\n`);
      await closeOnSignal(server);
      ctx.log.info('prediction server stopped');
    });
}
