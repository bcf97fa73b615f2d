import * as core from '@actions/core';
import { gate, rejection } from '../gate/gate.js';
import { runAction } from './action.js';
import { gateSummary } from './summary.js';
import { ruleText } from '../report.js';
import type { Decision } from '../step-outputs.js';

/**
 * The gate action. A rejected model fails the job (after the alert), so the release jobs after it
 * do not run; `force-reason` releases it anyway and records why.
 */
export const run = () =>
  runAction<{ gate: Decision }>({
    steps: { gate },
    prepare: () => {
      const reason = core.getInput('force-reason');
      return reason ? { force: { reason } } : {};
    },
    outputs: ({ gate: d }) => ({ blessed: d.blessed, passed: d.passed, champion: d.championVersion ?? '' }),
    annotate: ({ gate: d }) => {
      for (const r of d.rules.filter((rule) => !rule.passed))
        (d.forced ? core.warning : core.error)(ruleText(r), { title: 'gate rule failed' });
    },
    summary: ({ gate }) => gateSummary(gate),
    failure: ({ gate }) => (gate.blessed ? undefined : rejection(gate)),
  });
