import { readArtifactIfAny, removeArtifact, writeArtifact } from '../artifacts.js';
import { deployFile, recordFile, releaseFile } from '../artifact-files.js';
import type { ReleaseModeName } from '../config/schema.js';
import type { StepContext } from '../context.js';
import { configError, MlopsError } from '../errors.js';
import { championGuard } from '../gate/champion-guard.js';
import type { PromotionGuard, Registry } from '../registry/registry.js';
import { assertNotRetired, retiredAmong } from '../retirement/retirement.js';
import { waitUntilReady, type Fleet } from './fleet.js';
import { releaseStrategy } from './release/modes.js';
import { judge, releaseTags } from './release/verdict.js';
import { hasFleet, openFleet } from './targets.js';
import type { DeployOutputs, ReleaseReport, Server } from '../step-outputs.js';
import { stagesRefused, stagingTargets } from '../target-support.js';

/**
 * Stopped servers beyond the newest `retire.keep`, or older than `retire.ttl_hours`, are removed;
 * so is a stopped server of the version now live, which a rollback would never pick, and any of a
 * retired version.
 */
async function removeStopped(ctx: StepContext, fleet: Fleet, liveVersion: string): Promise<string[]> {
  const { keep, ttl_hours } = ctx.config.deploy.retire;
  const oldest = Date.now() - ttl_hours * 3_600_000;
  const stopped = (await fleet.list()).filter((s) => !s.running);
  const retired = await retiredAmong(
    ctx.registry,
    stopped.map((s) => s.version),
  );
  const kept = stopped.filter((s) => s.version !== liveVersion && !retired.has(s.version) && Date.parse(s.since) >= oldest).slice(0, keep);
  const removed = stopped.filter((s) => !kept.includes(s));
  for (const s of removed) await fleet.remove(s);
  return removed.map((s) => s.id);
}

/**
 * Releases a registry version beside the running servers: start it, wait until it is healthy and
 * ready, let the proxy take it into rotation, then take the old servers out and stop them (they
 * finish what is in flight). A new server that never becomes ready is removed and the old ones keep
 * serving. With a shadow or canary `mode`, a stage before the full rollout is judged by
 * deploy.verdict; a failed verdict removes the new server too. On success the version becomes the
 * registry's champion (the champion is what serves), before the old servers leave rotation: a
 * `guard` that refuses the promotion removes the new server as a failed verdict does.
 */
export async function rollout(
  ctx: StepContext,
  version: string,
  mode: ReleaseModeName = 'direct',
  guard?: PromotionGuard,
): Promise<DeployOutputs> {
  const { registry } = ctx;
  await assertNotRetired(registry, version);
  const fleet = await openFleet(ctx);
  const refused = stagesRefused(fleet.target, mode);
  if (refused)
    throw configError(refused, `release directly (deploy.release direct), or stage on deploy.target ${stagingTargets().join(' or ')}`);
  const proxy = await fleet.proxy(version);
  const servers = await fleet.list();
  const live = servers.filter((s) => s.running);

  // With no champion serving there is nothing to compare with: the first release is direct.
  if (mode !== 'direct' && !live.length) ctx.log.info(`deploy: no champion serves yet, so ${version} is released directly`);
  const release = releaseStrategy(ctx, live.length ? mode : 'direct');
  await removeArtifact(ctx, releaseFile);
  const task = ctx.progress.start(`deploy ${version} (${fleet.target}, ${release.mode})`, { total: 4 });
  const began = performance.now();
  const port = await fleet.port(version, servers);
  await release.hold(proxy, fleet.serverUrl(version, port));
  let report: ReleaseReport | undefined;
  const server = await fleet.start(version, port).catch(async (err: unknown) => {
    await release.end(proxy);
    throw err;
  });
  try {
    task.update(1, `started ${server.id}, waiting until ready`);
    await waitUntilReady(fleet, server, ctx.config.deploy.ready_timeout_seconds * 1000);
    task.update(2, `ready; waiting for the proxy`);
    await fleet.admit(proxy, server);
    const comparison = await release.stage(proxy, server, task);
    if (comparison) {
      report = judge(comparison, ctx.config.deploy, { version, champion: live[0]?.version ?? null });
      await writeArtifact(ctx, releaseFile, report);
      await registry.tag(version, releaseTags(report));
      if (!report.passed)
        throw new MlopsError('quality', `the ${report.mode} of ${version} failed its verdict: ${report.failures.join('; ')}`, {
          hint: `${live.map((s) => s.version).join(', ')} keeps all traffic; the comparison is in deploy/release.json`,
        });
    }
    await registry.promote(version, guard);
  } catch (err) {
    task.finish('failed: the old servers keep serving');
    await fleet.evict(proxy, server).catch(() => {});
    await fleet.stop(server).catch(() => {});
    await fleet.remove(server).catch(() => {});
    await release.end(proxy).catch(() => {});
    throw err;
  }
  await release.end(proxy);
  task.update(3, 'in rotation; draining the old servers');
  for (const old of live) await fleet.evict(proxy, old);
  const seconds = (performance.now() - began) / 1000;
  await Promise.all(live.map((old) => fleet.stop(old)));
  const removed = await removeStopped(ctx, fleet, version);
  task.finish(`${version} serves on ${proxy.url} (${seconds.toFixed(1)}s)`);

  await registry.tag(version, { deployed_at: new Date().toISOString(), deploy_target: fleet.target });
  const result: DeployOutputs = {
    target: fleet.target,
    version,
    proxy: proxy.url,
    server,
    stopped: live.map((s) => s.id),
    removed,
    seconds,
    ...(report && { release: report }),
  };
  await writeArtifact(ctx, deployFile, result);
  ctx.log.info(`deploy: ${version} serves on ${proxy.url} via ${server.id}; stopped ${result.stopped.join(', ') || 'none'}`);
  return result;
}

/** The deploy step: release the version the run recorded. Skipped when the model was not blessed, or deploy.target is none. */
export async function deploy(ctx: StepContext): Promise<DeployOutputs | undefined> {
  if (!hasFleet(ctx)) return undefined;
  const recorded = await readArtifactIfAny(ctx, recordFile);
  return recorded ? rollout(ctx, recorded.version, ctx.config.deploy.release, championGuard(ctx, recorded.version)) : undefined;
}

/**
 * Returns traffic to the version that served before: the newest stopped server of another version
 * (a kept container starts again as it was), else the registry's `previous`. Retired versions are
 * passed over.
 */
export async function rollback(ctx: StepContext): Promise<DeployOutputs> {
  const fleet = await openFleet(ctx);
  const servers = await fleet.list();
  const { registry } = ctx;
  const live = new Set(servers.filter((s) => s.running).map((s) => s.version));
  const target = await fallback(registry, servers, live);
  if (!target) throw configError('there is no previous version to roll back to', 'see `mlops models list`');
  ctx.log.info(`rollback to ${target}`);
  return rollout(ctx, target);
}

/** The version to fall back on, neither serving nor retired: the newest stopped server's, else `previous`. */
export async function fallback(registry: Registry, servers: Server[], exclude: Set<string>): Promise<string | undefined> {
  const { previous } = await registry.aliases();
  const candidates = [...servers.filter((s) => !s.running).map((s) => s.version), ...(previous ? [previous] : [])];
  const retired = await retiredAmong(registry, candidates);
  return candidates.find((v) => !exclude.has(v) && !retired.has(v));
}

/** Stops and removes every server of the project, and the proxy. Their prediction logs are kept: they are the data. */
export async function undeploy(ctx: StepContext): Promise<string[]> {
  const fleet = await openFleet(ctx);
  const servers = await fleet.list();
  for (const s of servers) {
    if (s.running) await fleet.stop(s);
    await fleet.remove(s);
  }
  await fleet.stopProxy();
  ctx.log.info(`undeploy: the prediction logs stay in ${fleet.predictionStore}, for \`mlops monitor\``);
  return servers.map((s) => s.id);
}
