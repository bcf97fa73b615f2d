import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { openDocker } from '../image/docker.js';
import type { Logger } from '../log.js';
import { recentRuns } from '../runs/recent.js';
import { registerSecret } from '../secrets.js';
import { parseSpec, proxySpec, proxySpecFor, type ProxySpec } from '../serving-spec.js';
import { proxyOptions, startProxy } from '../../serving/proxy.js';
import { closeOnSignal } from '../../serving/server.js';
import { cliEnv, contextFrom, loggerFrom, type GlobalOptions } from './context.js';

interface ProxyFlags {
  port?: number;
  host?: string;
  docker?: boolean;
  spec?: string;
  dashboardInterval: number;
  dashboardHistory: number;
}

export function registerProxy(cli: Command): void {
  cli
    .command('proxy')
    .description(
      'balance predictions over the healthy prediction servers on 127.0.0.1, by weight; servers are registered ' +
        'with PUT /backends/:id (bearer MLOPS_ADMIN_TOKEN) or, with --docker, found by their container labels',
    )
    .option('-p, --port <port>', 'the port (default deploy.proxy.port; 0 picks a free one)', (v) => Number(v))
    .option('--host <address>', 'the address to listen on (default deploy.proxy.host)')
    .option('--docker', 'also follow the running containers labelled mlops.project=<project> and mlops.role=server')
    .option('--spec <file>', 'run as this proxy spec says, which deploy.target local writes; the config is not read')
    .option('--dashboard-interval <seconds>', 'how often /dashboard samples traffic and drift', (v) => Number(v), 5)
    .option('--dashboard-history <minutes>', 'how much history /dashboard keeps', (v) => Number(v), 60)
    .action(async (opts: ProxyFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const env = cliEnv();
      const adminToken = env.MLOPS_ADMIN_TOKEN || undefined;
      if (adminToken) registerSecret(adminToken);
      const { spec, log } = opts.spec
        ? { spec: parseSpec(proxySpec, await readFile(opts.spec, 'utf8'), opts.spec), log: loggerFrom(globals) }
        : await fromConfig(opts, globals);
      const proxy = await startProxy({
        ...proxyOptions(spec, () => openDocker(env)),
        logger: log,
        adminToken,
        runs: spec.runs_dir === undefined ? undefined : () => recentRuns(spec.runs_dir!),
        dashboard: { intervalMs: opts.dashboardInterval * 1000, historyMs: opts.dashboardHistory * 60_000 },
      });
      process.stdout.write(`${proxy.url}\n`);
      await closeOnSignal(proxy);
      log.info('prediction proxy stopped');
    });
}

/** The spec the config and flags describe. */
async function fromConfig(opts: ProxyFlags, globals: GlobalOptions): Promise<{ spec: ProxySpec; log: Logger }> {
  const ctx = await contextFrom(globals);
  const { config } = ctx;
  const spec = proxySpecFor(config, {
    ...(opts.docker && { discovery: { name: 'docker', project: config.project } }),
    // This config's run ledger: the runs it lists are those `mlops status` shows.
    runs_dir: dirname(ctx.runDir),
  });
  return { spec: { ...spec, port: opts.port ?? spec.port, host: opts.host ?? spec.host }, log: ctx.log };
}
