import { join } from 'node:path';
import { decisionFile, predictFile, recordFile, type Artifact } from '../artifact-files.js';
import { readJson } from '../json-file.js';
import { decisionLines, verdict } from '../report.js';
import { redact } from '../secrets.js';
import { asItStands, type RunView } from './interrupted.js';
import { listRuns } from './ledger.js';
import type { RunRecord } from '../step-outputs.js';

/** A run as the dashboard lists it: how it ended, what the gate decided and which version it recorded. */
export interface RunDigest {
  runId: string;
  /** A training run, or a batch scoring run (`mlops predict`). */
  kind: 'train' | 'predict';
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
  /** A batch scoring run's day, version, rows and where they went; for a failed one, the day it was for. */
  batch?: { asOf?: string; version?: string; scored?: number; quarantined?: number; sink?: string };
}

/** A succeeded step's artifact; a file removed or damaged since leaves the run listed without it. */
const artifact = async <T>(runsDir: string, run: RunRecord, { step, file, schema }: Artifact<T>): Promise<T | undefined> => {
  if (run.steps.find((s) => s.name === step)?.status !== 'succeeded') return undefined;
  return readJson(join(runsDir, run.runId, step, file), schema).catch(() => undefined);
};

/** The newest training runs and the newest batch runs in a work folder's ledger (`<workdir>/runs`), `limit` of each, newest first. */
export async function recentRuns(runsDir: string, limit = 10): Promise<RunDigest[]> {
  const all = await listRuns(runsDir, Infinity);
  const runs = [...all.filter((r) => r.kind !== 'predict').slice(0, limit), ...all.filter((r) => r.kind === 'predict').slice(0, limit)];
  const digests = await Promise.all(
    runs.map(async (run): Promise<RunDigest> => {
      const failed = run.steps.find((s) => s.status === 'failed');
      const common = {
        runId: run.runId,
        status: asItStands(run).status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        failure: failed && { step: failed.name, errorClass: failed.errorClass ?? 'internal', message: redact(failed.message ?? '') },
      };
      if (run.kind === 'predict') {
        const out = await artifact(runsDir, run, predictFile);
        const batch = out
          ? {
              asOf: out.window.asOf,
              version: out.version,
              scored: out.rows.scored,
              quarantined: out.rows.quarantined,
              sink: out.sink.where,
            }
          : { asOf: run.options.asOf, version: run.options.version };
        return { ...common, kind: 'predict', version: out?.version, batch };
      }
      const decision = await artifact(runsDir, run, decisionFile);
      const recorded = await artifact(runsDir, run, recordFile);
      return {
        ...common,
        kind: 'train',
        gate: decision && { blessed: decision.blessed, verdict: verdict(decision), details: decisionLines(decision).slice(1) },
        version: recorded?.version,
      };
    }),
  );
  return digests.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
}
