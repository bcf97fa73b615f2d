import type { Progress } from '../../src/progress.js';

/** A progress that keeps every task's start (`start <label>`) and closing line (`<label>: <summary>`). */
export function recordingProgress(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return { lines, start: (label) => (lines.push(`start ${label}`), { update() {}, finish: (s) => lines.push(`${label}: ${s}`) }) };
}
