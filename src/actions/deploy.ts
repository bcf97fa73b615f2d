import { readArtifactIfAny } from '../artifacts.js';
import { releaseFile } from '../artifact-files.js';
import { deploy } from '../deploy/rollout.js';
import { runAction } from './action.js';
import { releaseSummary, stageSummary } from './summary.js';
import type { DeployOutputs } from '../step-outputs.js';

/** The deploy action: the recorded version beside the running servers, then the old ones retired. */
export const run = () =>
  runAction<{ deploy: DeployOutputs }>({
    steps: { deploy },
    outputs: ({ deploy }) => ({ version: deploy.version, url: deploy.proxy, server: deploy.server.id, seconds: deploy.seconds.toFixed(1) }),
    summary: ({ deploy }) => releaseSummary(undefined, undefined, deploy),
    // A failed shadow or canary: its comparison, the same table a passed one gets.
    failureSummary: async (ctx) => {
      const report = await readArtifactIfAny(ctx, releaseFile);
      return report && !report.passed ? stageSummary(report) : undefined;
    },
  });
