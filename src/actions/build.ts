import { buildStep } from '../image/build.js';
import { pushStep } from '../image/push.js';
import { runAction } from './action.js';
import { releaseSummary } from './summary.js';
import type { BuildOutputs, PushOutputs } from '../step-outputs.js';

/** The build action: the prediction image, then its push to image.registry when one is set. */
export const run = () =>
  runAction<{ build: BuildOutputs; push?: PushOutputs }>({
    steps: { build: buildStep, push: pushStep },
    outputs: ({ build, push }) => ({ image: build.image, digest: push?.digest ?? '', reference: push?.reference ?? build.image }),
    summary: ({ build, push }) => releaseSummary(build, push),
  });
