/**
 * `npm run bench:search`: the train step with a search of 8 trials on the sample data (the shipped
 * config, 3 stability seeds, over hidden layers, dropout, learning rate and batch size), target
 * <= 60 s from the prepared data to the model card written. Prints each trial's time and score, the
 * step's wall and CPU seconds, and the load average over it.
 *
 *   npm run bench:search -- [--trials 8]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.js';
import { createContext } from '../src/context.js';
import { extract } from '../src/data/extract.js';
import { createLogger } from '../src/log.js';
import { readModelCard } from '../src/model/model-card.js';
import { paramsText } from '../src/model/search.js';
import { train } from '../src/model/train.js';
import { silentProgress } from '../src/progress.js';
import { sampleConfig } from './sample-config.js';
import { targets } from './targets.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '8' } } });
const trials = Number(values.trials);
const root = await mkdtemp(join(tmpdir(), 'bench-search-'));
try {
  const sample = await sampleConfig(root);
  const space = {
    hidden: [[32], [64, 32], [128, 64]],
    dropout: { min: 0, max: 0.3 },
    learning_rate: { min: 0.0003, max: 0.01 },
    batch_size: [16, 32, 64],
  };
  const config = parseConfig({ ...sample, model: { ...sample.model, search: { trials, space } } }, process.env);
  const ctx = createContext(
    { config, file: join(root, 'mlops.config.yaml'), dir: root, env: process.env },
    { runId: 'bench-search', log: createLogger({ write: () => {} }), progress: silentProgress },
  );
  await extract(ctx);
  const [began, cpu, before] = [performance.now(), process.cpuUsage(), loadavg()[0]!];
  const out = await train(ctx);
  const seconds = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  const search = (await readModelCard(out.modelDir)).search!;
  for (const t of search.trials) {
    const score = t.failed ? `failed: ${t.failed}` : `${search.by} ${t.metrics?.[search.by]?.toFixed(4) ?? t.valLoss!.toFixed(4)}`;
    console.log(
      `trial ${t.trial} (${paramsText(t.params)}): ${t.seconds.toFixed(2)} s, ${score}${t.trial === search.released ? ', released' : ''}`,
    );
  }
  const goals = targets();
  const met = goals.check(seconds <= 60, `a search of ${search.trials.length} trials: ${seconds.toFixed(1)} s > 60 s`);
  console.log(
    `\ntrain step with a search of ${search.trials.length} trials on ${out.backend}: ${seconds.toFixed(1)} s wall (target <= 60 s${met ? ', met' : ', MISSED'}), ${((used.user + used.system) / 1e6).toFixed(1)} s CPU, load ${before.toFixed(1)}-${loadavg()[0]!.toFixed(1)}; released trial ${search.released} after 3 stability seeds and the linear baseline`,
  );
  goals.report();
} finally {
  await rm(root, { recursive: true, force: true });
}
