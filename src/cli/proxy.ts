import type { Command } from 'commander';
import { dirname } from 'node:path';
import { discoverContainers } from '../../serving/docker-discovery.js';
import { openDocker } from '../image/docker.js';
import { recentRuns } from '../runs/recent.js';
import { registerSecret } from '../secrets.js';
import { startProxy } from '../../serving/proxy.js';
import { closeOnSignal } from '../../serving/server.js';
import { contextFrom, type GlobalOptions } from './context.js';

interface ProxyFlags {
  port?: number;
  host?: string;
  docker?: boolean;
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
    .option('--dashboard-interval <seconds>', 'how often /dashboard samples traffic and drift', (v) => Number(v), 5)
    .option('--dashboard-history <minutes>', 'how much history /dashboard keeps', (v) => Number(v), 60)
    .action(async (opts: ProxyFlags, cmd: Command) => {
      const ctx = await contextFrom(cmd.optsWithGlobals<GlobalOptions>());
      const adminToken = ctx.env.MLOPS_ADMIN_TOKEN || undefined;
      if (adminToken) registerSecret(adminToken);
      const { proxy: config } = ctx.config.deploy;
      const proxy = await startProxy({
        logger: ctx.log,
        adminToken,
        port: opts.port ?? config.port,
        host: opts.host ?? config.host,
        healthIntervalMs: config.health_interval_seconds * 1000,
        upstreamTimeoutMs: config.upstream_timeout_ms,
        discover: opts.docker
          ? (pool, logger) => discoverContainers(pool, { docker: openDocker(ctx.env), project: ctx.config.project, logger })
          : undefined,
        // This config's run ledger: the runs it lists are those `mlops status` shows.
        runs: () => recentRuns(dirname(ctx.runDir)),
        dashboard: { intervalMs: opts.dashboardInterval * 1000, historyMs: opts.dashboardHistory * 60_000 },
      });
      process.stdout.write(`${proxy.url}\n`);
      await closeOnSignal(proxy);
      ctx.log.info('prediction proxy stopped');
    });
}
