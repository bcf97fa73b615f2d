import { deploy } from '../deploy/rollout.js';
import { runAction } from './action.js';
import { releaseSummary } from './summary.js';
import type { DeployOutputs } from '../step-outputs.js';

/** The deploy action: the recorded version beside the running servers, then the old ones retired. */
export const run = () =>
  runAction<{ deploy: DeployOutputs }>({
    steps: { deploy },
    outputs: ({ deploy }) => ({ version: deploy.version, url: deploy.proxy, server: deploy.server.id, seconds: deploy.seconds.toFixed(1) }),
    summary: ({ deploy }) => releaseSummary(undefined, undefined, deploy),
  });
