import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readJson, writeJson } from '../json-file.js';
import type { Logger } from '../log.js';
import { findByEnvironment, isGone, processState, spawnMlops, terminate, thisProcess, type ProcessIdentity } from '../processes.js';

/**
 * A child of a deploy (the local proxy, a local server) is recorded in `<dir>/<id>.json` before it
 * is spawned, and again with its pid once spawned, until its owner has it in its own state file
 * (proxy.json, local.json). A deploy killed in between leaves the record: the next deploy or
 * undeploy reaps the child it names, which nothing else knows of and whose port it would hold.
 */
const recordSchema = z.object({
  what: z.string(),
  state: z.enum(['starting', 'spawned']),
  owner: z.object({ pid: z.number(), started: z.string().optional(), host: z.string() }),
  child: z.object({ pid: z.number(), started: z.string().optional() }).optional(),
});

/** The child's environment names its record: a child spawned before its pid was recorded is found by it. */
const markerName = 'MLOPS_CHILD_ID';

/** Starts `mlops <args>` (spawnMlops), recorded as above; `settled` drops the record once the owner's state holds the child. */
export async function spawnRecorded(
  dir: string,
  what: string,
  spawn: { args: string[]; logFile: string; env: NodeJS.ProcessEnv },
): Promise<{ child: ProcessIdentity; settled: () => Promise<void> }> {
  const id = randomBytes(6).toString('hex');
  const file = join(dir, `${id}.json`);
  const owner = thisProcess();
  await mkdir(dir, { recursive: true });
  await writeJson(file, recordSchema, { what, state: 'starting', owner });
  const child = spawnMlops(spawn.args, spawn.logFile, { ...spawn.env, [markerName]: id });
  await writeJson(file, recordSchema, { what, state: 'spawned', owner, child });
  return { child, settled: () => rm(file, { force: true }) };
}

/**
 * Stops the children that deploys killed before they recorded them, and drops their records. A
 * record whose owner still runs is a deploy at work, left alone; a child its owner's state `knows`
 * (killed after recording it, before dropping the record) is kept.
 */
export async function reapOrphans(dir: string, log: Pick<Logger, 'warn'>, knows: (child: ProcessIdentity) => boolean): Promise<void> {
  for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'))) {
    const file = join(dir, name);
    const record = await readJson(file, recordSchema);
    if (!isGone(record.owner)) continue;
    const child = record.child ?? findByEnvironment(`${markerName}=${name.slice(0, -'.json'.length)}`);
    if (child && !knows(child) && processState(child) === 'running') {
      log.warn(`deploy: ${record.what}, pid ${child.pid}, was started by a deploy killed before it recorded it; stopping it`);
      await terminate(child, 10_000);
    }
    await rm(file, { force: true });
  }
}
