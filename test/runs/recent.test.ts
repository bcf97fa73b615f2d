import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recentRuns } from '../../src/runs/recent.js';
import { registerSecret } from '../../src/secrets.js';
import type { RunRecord } from '../../src/step-outputs.js';

let runs: string;
beforeAll(async () => {
  runs = await mkdtemp(join(tmpdir(), 'mlops-recent-'));
});
afterAll(() => rm(runs, { recursive: true, force: true }));

const write = async (run: RunRecord, files: Record<string, unknown> = {}) => {
  for (const [path, value] of Object.entries({ 'run.json': run, ...files })) {
    await mkdir(join(runs, run.runId, path, '..'), { recursive: true });
    await writeFile(join(runs, run.runId, path), typeof value === 'string' ? value : JSON.stringify(value));
  }
};
const step = (name: string, status: RunRecord['steps'][number]['status'], extra = {}) => ({
  name,
  status,
  attempts: 1,
  startedAt: '2026-01-01T00:00:00Z',
  artifacts: '',
  ...extra,
});

it('digests each run: its gate verdict, the version it recorded, and the step that failed with secrets redacted', async () => {
  registerSecret('postgres://etl:s3cr3t-pw@db:5432/warehouse');
  const base = { project: 'p', options: {} };
  await write({
    ...base,
    runId: 'old',
    status: 'failed',
    startedAt: '2026-01-01T00:00:00Z',
    steps: [
      step('extract', 'failed', { errorClass: 'transient', message: 'connect to postgres://etl:s3cr3t-pw@db:5432/warehouse refused' }),
    ],
  });
  const rejected = {
    blessed: false,
    passed: false,
    championVersion: 'v1',
    rules: [{ metric: 'accuracy', scope: 'all', rule: 'lower', value: 0.5, bound: 0.8, passed: false }],
  };
  await write(
    { ...base, runId: 'new', status: 'rejected', startedAt: '2026-01-02T00:00:00Z', steps: [step('gate', 'succeeded')] },
    {
      'gate/decision.json': rejected,
    },
  );
  // A run whose decision file was cleaned up is still listed, without a verdict.
  await write(
    {
      ...base,
      runId: 'mid',
      status: 'succeeded',
      startedAt: '2026-01-01T12:00:00Z',
      steps: [step('gate', 'succeeded'), step('record', 'succeeded')],
    },
    {
      'record/record.json': '{ not json',
    },
  );

  expect(await recentRuns(runs)).toEqual([
    {
      runId: 'new',
      kind: 'train',
      status: 'rejected',
      startedAt: '2026-01-02T00:00:00Z',
      gate: { blessed: false, verdict: 'REJECTED against champion v1', details: ['  FAIL  accuracy (all) lower: 0.5000 vs bound 0.8000'] },
    },
    { runId: 'mid', kind: 'train', status: 'succeeded', startedAt: '2026-01-01T12:00:00Z' },
    {
      runId: 'old',
      kind: 'train',
      status: 'failed',
      startedAt: '2026-01-01T00:00:00Z',
      failure: { step: 'extract', errorClass: 'transient', message: 'connect to *** refused' },
    },
  ]);
  expect(await recentRuns(runs, 1)).toHaveLength(1);
});
