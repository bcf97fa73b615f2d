/**
 * `npm run bench:redact`: `redact()`, which every log line and error message passes through, on
 * 1 MiB lines of the shapes that once made it quadratic (a run of letters, a URL's scheme or
 * userinfo that never ends, many URLs), with two secrets registered. Median of 5 runs per shape;
 * target <= 50 ms each, and the run exits 1 when one is missed.
 */
import { redact, registerSecret } from '../src/secrets.js';
import { targets } from './targets.js';

const size = 2 ** 20;
const shapes: Record<string, string> = {
  letters: 'a'.repeat(size),
  'scheme, no userinfo end': `https://${'a'.repeat(size)}`,
  'userinfo, no @': `https://user:${'b'.repeat(size)}`,
  'many URLs': 'https://u:p@h/ '.repeat(size / 15),
};
registerSecret('postgres://bench:benchpassword@127.0.0.1:5432/db');
registerSecret('https://hooks.example.com/services/T000/B000/benchsecret');

const goals = targets();
console.log('redact() on a 1 MiB line, median of 5 runs   (target <= 50 ms)');
for (const [name, line] of Object.entries(shapes)) {
  const ms = median(
    Array.from({ length: 5 }, () => {
      const began = performance.now();
      redact(line);
      return performance.now() - began;
    }),
  );
  console.log(`${name.padEnd(26)} ${ms.toFixed(1).padStart(6)} ms`);
  goals.check(ms <= 50, `${name}: ${ms.toFixed(1)} ms > 50 ms`);
}
goals.report();

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
