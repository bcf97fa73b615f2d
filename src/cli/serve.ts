import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from '../log.js';
import { preferredBackend } from '../model/backend.js';
import { registerSecret } from '../secrets.js';
import { parseSpec, serverSpec } from '../serving-spec.js';
import { closeOnSignal, serverOptions, startServer, type ServerOptions } from '../../serving/server.js';
import { cliEnv, contextFrom, loggerFrom, type GlobalOptions } from './context.js';

interface ServeFlags {
  port?: number;
  modelDir?: string;
  registry: string;
  predictionLog?: string;
  spec?: string;
}

export function registerServe(cli: Command): void {
  cli
    .command('serve')
    .description('serve predictions on 127.0.0.1: the champion from the registry (hot-swapped), or a fixed model folder')
    .option('-p, --port <port>', 'the port (default serving.port; 0 picks a free one)', (v) => Number(v))
    .option('--model-dir <dir>', 'serve this model folder as is (model-in-image mode)')
    .option('--registry <alias>', 'follow this registry alias and swap in new versions (model-load mode)', 'champion')
    .option('--prediction-log <file>', 'write the prediction log here instead of serving.log.path (one file per server)')
    .option('--spec <file>', 'serve as this server spec says, which deploy.target local writes; the config is not read')
    .action(async (opts: ServeFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const env = cliEnv();
      const adminToken = env.MLOPS_ADMIN_TOKEN || undefined;
      if (adminToken) registerSecret(adminToken);
      const { options, log } = opts.spec ? await fromSpec(opts.spec, loggerFrom(globals)) : await fromConfig(opts, globals);
      const server = await startServer({ ...options, logger: log, adminToken, backend: preferredBackend(env) });
      process.stdout.write(`${server.url}\n`);
      await closeOnSignal(server);
      log.info('prediction server stopped');
    });
}

type Started = Pick<ServerOptions, 'serving' | 'configDir' | 'port' | 'host' | 'source' | 'poll'>;

async function fromSpec(file: string, log: Logger): Promise<{ options: Started; log: Logger }> {
  return { options: serverOptions(parseSpec(serverSpec, await readFile(file, 'utf8'), file)), log };
}

async function fromConfig(opts: ServeFlags, globals: GlobalOptions): Promise<{ options: Started; log: Logger }> {
  const overrides = { serving: { port: opts.port, log: { path: opts.predictionLog && resolve(opts.predictionLog) } } };
  const ctx = await contextFrom(globals, undefined, overrides);
  return {
    log: ctx.log,
    options: {
      serving: ctx.config.serving,
      configDir: ctx.configDir,
      source: opts.modelDir
        ? { kind: 'dir', dir: resolve(opts.modelDir) }
        : { kind: 'registry', registry: ctx.registry, alias: opts.registry },
      poll: !opts.modelDir,
    },
  };
}
