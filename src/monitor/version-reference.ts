import { join } from 'node:path';
import { z } from 'zod';
import { describeError } from '../errors.js';
import { readJson } from '../json-file.js';
import type { Logger } from '../log.js';
import { readModelCard } from '../model/model-card.js';
import { expectedShares, type FeatureReference } from '../model/reference.js';
import type { Registry } from '../registry/registry.js';

/** What a version's served traffic is compared with: its training reference, from the registry. */
export interface VersionReference {
  features: { name: string; reference: FeatureReference; expected: number[] }[];
  classes?: string[];
  /**
   * The share of each class among the labels of the version's test split: the row sums of the
   * confusion matrix in evaluation.json. The split is stratified by label, so these are the training
   * split's shares too, and every recorded version has them (the model card does not keep them).
   */
  labelShares?: number[];
}

/** What this module needs of a version's evaluation.json: the confusion matrix, when the task has classes. */
const confusionOnly = z.object({
  metrics: z.object({ confusion: z.array(z.array(z.number().int().nonnegative())).optional() }),
});

/** The version's reference, checksums verified; undefined, with a warning, when the registry has no such version. */
export async function versionReference(registry: Registry, version: string, log: Logger): Promise<VersionReference | undefined> {
  if (version === 'none') return undefined; // the failed requests of a server with no model loaded yet
  let dir: string;
  try {
    ({ dir } = await registry.open(version));
  } catch (err) {
    log.warn(
      `monitor: the log has predictions of ${version}, which the registry cannot give (${describeError(err)}); ` +
        'its drift and class shift are not measured (is the log from another project or registry?)',
    );
    return undefined;
  }
  const card = await readModelCard(dir);
  const { confusion } = (await readJson(join(dir, 'evaluation.json'), confusionOnly)).metrics;
  const labelCounts = confusion?.map((row) => row.reduce((a, b) => a + b, 0));
  const labels = labelCounts?.reduce((a, b) => a + b, 0);
  return {
    features: Object.entries(card.reference).map(([name, reference]) => ({ name, reference, expected: expectedShares(reference) })),
    classes: card.classes,
    labelShares: labelCounts && labels ? labelCounts.map((c) => c / labels) : undefined,
  };
}
