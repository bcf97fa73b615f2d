import { isGone } from '../processes.js';
import type { RunRecord, RunStatus } from '../step-outputs.js';

/** A run as it stands: one whose ledger says `running` but whose process is gone was killed, and is `interrupted`. */
export interface RunView extends Omit<RunRecord, 'status'> {
  status: RunStatus | 'interrupted';
}

/** The run as it stands; a run another host is at work on cannot be checked from here, and stays `running`. */
export const asItStands = (run: RunRecord): RunView =>
  run.status === 'running' && run.process && isGone(run.process) ? { ...run, status: 'interrupted' } : run;

/** Where an interrupted run stopped, and how to resume it: `in train: resume with mlops rekick <id>`. */
export function interruption(run: RunView): string {
  const inStep = run.steps.find((s) => s.status === 'running');
  const done = run.steps.filter((s) => s.status !== 'running').at(-1);
  const where = inStep ? `in ${inStep.name}` : done ? `after ${done.name}` : 'before its first step';
  return `${where} (its process, pid ${run.process?.pid}, is gone): resume with mlops rekick ${run.runId}`;
}
