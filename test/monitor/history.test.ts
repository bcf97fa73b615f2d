import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log.js';
import { historyEntries, type MonitorReport, type VersionReport } from '../../src/monitor/report.js';
import { openRegistry } from '../../src/registry/registry.js';
import { forkRemote, git } from '../helpers/git-remote.js';

let root: string;
let remote: string;
const saved = { ...process.env };

beforeAll(async () => {
  Object.assign(process.env, { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });
  root = await mkdtemp(join(tmpdir(), 'mlops-monitor-history-'));
  remote = await forkRemote(root);
});
afterAll(async () => {
  process.env = saved;
  await rm(root, { recursive: true, force: true });
});

/** A fresh checkout, as each scheduled workflow run makes, and the git-branch registry its config opens. */
async function checkout(name: string) {
  await git(root, 'clone', '--quiet', remote, name);
  const config = { registry: { backend: 'git-branch' as const, path: '.mlops/registry', branch: 'mlops-registry', remote: 'origin' } };
  return openRegistry({ config, configDir: join(root, name), log: memoryLogger(), env: process.env });
}

const version = (psi: number): VersionReport => ({
  version: 'v1',
  inRegistry: true,
  predictions: 900,
  requests: 900,
  failed: {},
  errorRate: 0,
  latencyMs: { p50: 0.4, p95: 0.9, p99: 2.1 },
  outlierRate: 0.001,
  psi: { culmen_length_mm: psi },
  classes: null,
  classPsi: 0.01,
  notJudged: [],
  breaches: psi > 0.2 ? [{ metric: 'psi', feature: 'culmen_length_mm', value: psi, threshold: 0.2 }] : [],
});
const report = (runId: string, end: string, psi: number): MonitorReport => ({
  format: 'mlops-monitor-report/1',
  runId,
  project: 'penguins',
  generatedAt: end,
  window: { duration: '1h', start: new Date(Date.parse(end) - 3_600_000).toISOString(), end },
  sources: ['server a'],
  lines: { read: 900, inWindow: 900, malformed: 0 },
  versions: [version(psi), { ...version(0), version: 'v9', inRegistry: false }],
  unalerted: [],
});

describe('the monitoring history on the git-branch registry', () => {
  it("keeps each run's results per version on the registry branch, where the next run and every checkout read them in time order", async () => {
    // Two hourly runs on two runners, the later one first: the history is ordered by window, not by push.
    await (await checkout('run-2')).recordMonitoring(historyEntries(report('gh-2', '2026-11-21T16:00:00.000Z', 0.61)));
    await (await checkout('run-1')).recordMonitoring(historyEntries(report('gh-1', '2026-11-21T15:00:00.000Z', 0.05)));

    const history = await (await checkout('dashboard')).monitoringHistory('v1');
    expect(history.map((h) => [h.runId, h.psi.culmen_length_mm, h.breaches.length])).toEqual([
      ['gh-1', 0.05, 0],
      ['gh-2', 0.61, 1],
    ]);
    expect(history[0]!.window).toMatchObject({ duration: '1h', end: '2026-11-21T15:00:00.000Z' });

    await git(root, 'clone', '--quiet', '--branch', 'mlops-registry', remote, 'branch');
    expect(await readdir(join(root, 'branch', 'monitoring'))).toEqual(['v1']); // v9 is not in the registry: no history
    expect(await readdir(join(root, 'branch', 'monitoring', 'v1'))).toEqual([
      '20261121T150000000Z-gh-1.json',
      '20261121T160000000Z-gh-2.json',
    ]);
    expect(await git(join(root, 'branch'), 'log', '--format=%s', '-2')).toBe('monitor run gh-1: v1 ok\nmonitor run gh-2: v1 breached');
  });
});
