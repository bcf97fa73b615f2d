/**
 * `npm run bench:crash`: crash injection over every point of a run (issue 23). For each deploy
 * target, a counting run finds the points of `mlops run` on the sample config (each file-system
 * write and child-process start), then the run is killed right after each one in turn and recovered
 * as a user would; test/helpers/crash-driver.ts says what is checked. Prints the points covered per
 * target, the failures (each named), and the time; exits 1 on a failure. test/crash.test.ts runs a
 * sample of the same points. `npm run bench:crash` builds dist/ first: the runs use the built CLI.
 *
 *   npm run bench:crash -- [--jobs N] [--target none|local]... [--points FIRST-LAST]
 *
 * --points sweeps a range of each target's points (a long sweep in parts); each failure is printed
 * when found, so a sweep cut short still says what it found.
 */
import { parseArgs } from 'node:util';
import { countPoints, sweep, type CrashTarget } from '../test/helpers/crash-driver.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '2' },
    target: { type: 'string', multiple: true, default: ['none', 'local'] },
    points: { type: 'string' },
  },
});
const jobs = Number(values.jobs);
const range = /^(\d+)-(\d+)$/.exec(values.points ?? '1-1000000');
if (!range) throw new Error(`--points ${values.points}: expected FIRST-LAST, for example 1-40`);
let failed = 0;
for (const target of values.target as CrashTarget[]) {
  const started = Date.now();
  const total = (await countPoints(target)).length;
  const [first, last] = [Number(range[1]), Math.min(Number(range[2]), total)];
  let covered = 0;
  const failures = await sweep(
    target,
    Array.from({ length: last - first + 1 }, (_, i) => first + i),
    jobs,
    (n, found) => {
      covered += 1;
      process.stderr.write(`${target}: point ${n} of ${total}\n`);
      found.forEach((f) => process.stdout.write(`  FAIL ${f}\n`));
    },
  );
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(
    `deploy.target ${target}: ${covered} points (${first}-${last} of ${total}), ${failures.length} failures, ${minutes} min (${jobs} at a time)\n`,
  );
  failed += failures.length;
}
process.exitCode = failed ? 1 : 0;
