import { join } from 'node:path';
import { decisionFile, recordFile, type Artifact } from '../artifact-files.js';
import { readJson } from '../json-file.js';
import { decisionLines, verdict } from '../report.js';
import { redact } from '../secrets.js';
import { asItStands, type RunView } from './interrupted.js';
import { listRuns } from './ledger.js';
import type { RunRecord } from '../step-outputs.js';

/** A run as the dashboard lists it: how it ended, what the gate decided and which version it recorded. */
export interface RunDigest {
  runId: string;
  status: RunView['status'];
  startedAt: string;
  finishedAt?: string;
  gate?: {
    blessed: boolean;
    /** As `mlops run` prints it, e.g. "PASSED against champion v2". */
    verdict: string;
    /** The note on how it judged, then every rule with its value and bound, failures first. */
    details: string[];
  };
  /** The model version the run recorded in the registry. */
  version?: string;
  /** The step that failed, with its error class and message (secrets redacted). */
  failure?: { step: string; errorClass: string; message: string };
}

/** A succeeded step's artifact; a file removed or damaged since leaves the run listed without it. */
const artifact = async <T>(runsDir: string, run: RunRecord, { step, file, schema }: Artifact<T>): Promise<T | undefined> => {
  if (run.steps.find((s) => s.name === step)?.status !== 'succeeded') return undefined;
  return readJson(join(runsDir, run.runId, step, file), schema).catch(() => undefined);
};

/** The newest runs in a work folder's ledger (`<workdir>/runs`), newest first. */
export async function recentRuns(runsDir: string, limit = 10): Promise<RunDigest[]> {
  const runs = await listRuns(runsDir, limit);
  return Promise.all(
    runs.map(async (run): Promise<RunDigest> => {
      const decision = await artifact(runsDir, run, decisionFile);
      const recorded = await artifact(runsDir, run, recordFile);
      const failed = run.steps.find((s) => s.status === 'failed');
      return {
        runId: run.runId,
        status: asItStands(run).status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        gate: decision && { blessed: decision.blessed, verdict: verdict(decision), details: decisionLines(decision).slice(1) },
        version: recorded?.version,
        failure: failed && { step: failed.name, errorClass: failed.errorClass ?? 'internal', message: redact(failed.message ?? '') },
      };
    }),
  );
}
