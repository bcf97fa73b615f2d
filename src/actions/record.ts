import { record } from '../registry/record.js';
import { runAction } from './action.js';
import type { RecordOutputs } from '../step-outputs.js';

/** The record action: the blessed model as a new immutable registry version. */
export const run = () =>
  runAction<{ record: RecordOutputs }>({
    steps: { record },
    outputs: ({ record: out }) => ({ version: out.version, promoted: out.promoted }),
    summary: ({ record: out }) =>
      `### record: registry version ${out.version}${out.promoted ? ', now the champion' : ', the champion once it serves'}\n\n` +
      `Files: ${Object.keys(out.manifest.files).join(', ')}, each with its sha256.`,
  });
