import type { Config } from '../config/schema.js';
import { dataError } from '../errors.js';
import { mlp } from './families/mlp.js';
import type { ModelFamily } from './family.js';

/** Every model family by its name in model.family and in the model card: a new family is its file and a line here. */
export const families: Record<Config['model']['family'], ModelFamily> = { mlp };

/** The family that reads a saved model, by the name in its card. */
export function savedFamily(name: string, dir: string): ModelFamily {
  if (Object.hasOwn(families, name)) return families[name as keyof typeof families];
  throw dataError(
    `the model in ${dir} is of the family "${name}", which this version does not know (it knows ${Object.keys(families).join(', ')})`,
    'serve or evaluate it with the version of the template that trained it, or retrain',
  );
}
