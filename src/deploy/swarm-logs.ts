import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { StepContext } from '../context.js';
import { PREDICTIONS_DIR } from '../image/context.js';
import { pollUntil } from '../poll.js';
import { demux } from './docker-exec.js';
import type { PredictionLogSource } from './fleet.js';
import { projectLabels } from './labels.js';
import { predictionVolume } from './prediction-volume.js';
import { serverLogs, type LogFile } from './server-logs.js';
import { listNodes, listTasks, nodeName, taskLogs, type SwarmTask } from './swarm-api.js';
import { pullAuth } from './version-image.js';

/** Starts each file in the reader's output: a control character, which a JSON line cannot begin with. */
const MARK = '\u0001';

/**
 * Prints every log file last written at or after argv[2], each after a MARK line naming it and its
 * last write. The prediction lines are JSON, one per line.
 */
const DUMP = `const fs = require('fs');
const [dir, since] = process.argv.slice(1);
for (const name of fs.readdirSync(dir)) {
  try {
    const s = fs.statSync(dir + '/' + name);
    if (!s.isFile() || s.mtime.toISOString() < since) continue;
    const text = fs.readFileSync(dir + '/' + name, 'utf8');
    process.stdout.write('${MARK}' + JSON.stringify({ name, mtime: s.mtime.toISOString() }) + '\\n' + text + (text && !text.endsWith('\\n') ? '\\n' : ''));
  } catch {} // rotated away meanwhile
}`;

/** One node's files, split out of its reader's output. */
function filesOf(output: string): Map<string, { mtime: string; lines: string[] }> {
  const files = new Map<string, { mtime: string; lines: string[] }>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(MARK)) {
      const { name, mtime } = JSON.parse(line.slice(1)) as { name: string; mtime: string };
      current = [];
      files.set(name, { mtime, lines: current });
    } else if (line && current) current.push(line);
  }
  return files;
}

/**
 * The prediction logs on every node of a swarm: each node keeps its tasks' logs on its own volume,
 * which the manager's API cannot read. A global job (one task per node) of the project's image
 * mounts the volume read-only and prints the files; their lines come back through the tasks' logs.
 * A node that is down is left out, with a warning: its logs wait for it on its disk.
 */
export async function swarmPredictionLogs(ctx: StepContext, docker: Docker, since = ''): Promise<PredictionLogSource[]> {
  const { registry } = ctx;
  const { champion } = await registry.aliases();
  const image = champion ? (await registry.tags(champion)).reference : undefined;
  if (!image) {
    ctx.log.warn('no pushed image of a champion to read the swarm nodes’ prediction logs with: none read');
    return [];
  }
  const nodes = await listNodes(docker);
  for (const n of nodes)
    if (n.Status.State !== 'ready')
      ctx.log.warn(`swarm node ${nodeName(n)} is ${n.Status.State}: its prediction logs are not read until it is back`);

  const name = `${predictionVolume(ctx)}-reader-${randomBytes(3).toString('hex')}`;
  const service = await docker.createService(pullAuth(ctx) ?? {}, {
    Name: name,
    Labels: projectLabels(ctx.config.project, 'log-reader'),
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Command: ['node', '-e', DUMP, PREDICTIONS_DIR, since],
        Mounts: [{ Type: 'volume', Source: predictionVolume(ctx), Target: PREDICTIONS_DIR, ReadOnly: true }],
      },
      Networks: [{ Target: 'host' }], // Swarm has no "none" network to give a task; the reader opens no socket
      RestartPolicy: { Condition: 'none' },
    },
    Mode: { GlobalJob: {} },
  } as Docker.CreateServiceOptions);
  try {
    let tasks: SwarmTask[] = [];
    const ended = async () => {
      tasks = await listTasks(docker, { service: [name] });
      return tasks.length > 0 && tasks.every((t) => ['complete', 'failed', 'rejected', 'shutdown'].includes(t.Status.State));
    };
    await pollUntil(60_000, ended, () => ctx.log.warn('the prediction log readers of some swarm nodes did not finish within 60s'), 250);
    const sources: PredictionLogSource[] = [];
    for (const task of tasks) {
      const node = nodeName(
        nodes.find((n) => n.ID === task.NodeID),
        task.NodeID,
      );
      if (task.Status.State !== 'complete') {
        ctx.log.warn(`the prediction logs on swarm node ${node} were not read: ${task.Status.Err ?? task.Status.State}`);
        continue;
      }
      const output = demux(await taskLogs(docker, task.ID), new Set([1]));
      const files = filesOf(output);
      const listed: LogFile[] = [...files].map(([file, { mtime }]) => ({ name: file, mtime }));
      for (const log of serverLogs(listed, since))
        sources.push({
          server: log.server,
          async *lines() {
            for (const file of log.files) yield* files.get(file)!.lines;
          },
        });
    }
    return sources;
  } finally {
    await service.remove().catch(() => {});
  }
}
