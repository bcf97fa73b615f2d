import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { createContext, type StepContext } from '../../src/context.js';
import { extract } from '../../src/data/extract.js';
import { memoryLogger } from '../../src/log.js';
import { silentProgress } from '../../src/progress.js';

/**
 * A regression on the sample data: a penguin's body mass (`mass`, an SQL expression of "Body Mass (g)")
 * from its other measurements, species and island, on the default model settings; extracted under `root`.
 */
export async function bodyMassRun(root: string, runId: string, mass = '"Body Mass (g)"'): Promise<StepContext> {
  const raw = parse(await readFile('mlops.config.yaml', 'utf8'));
  raw.data.source.query = raw.data.source.query.replace(/"Body Mass \(g\)"\s+AS body_mass_g/, `${mass} AS body_mass_g`);
  raw.data.contract.columns.species = { type: 'category', values: ['Adelie', 'Chinstrap', 'Gentoo'] };
  raw.data.contract.columns.body_mass_g = { type: 'label' };
  raw.model = { task: 'regression' };
  raw.gates = { slice_column: 'island', thresholds: { r2: { lower: 0.5 } } };
  raw.registry.path = join(root, `registry-${runId}`);
  const ctx = createContext(
    { config: parseConfig(raw, {}), file: join(process.cwd(), 'mlops.config.yaml'), dir: process.cwd(), env: process.env },
    { runId, log: memoryLogger(), progress: silentProgress },
  );
  ctx.runDir = join(root, runId);
  await extract(ctx);
  return ctx;
}
