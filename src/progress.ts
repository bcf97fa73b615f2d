/**
 * Progress for long work. On a terminal it redraws one live line (bar when the total is known,
 * counter when not); in CI or a pipe it writes a concise line at most every few seconds.
 */
export interface ProgressTask {
  /** Sets the amount done so far, with an optional detail such as the latest loss. */
  update(done: number, detail?: string): void;
  /** Ends the task with a closing line. */
  finish(summary?: string): void;
}

export interface Progress {
  start(label: string, options?: { total?: number; unit?: string }): ProgressTask;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Live redraw; defaults to a TTY outside CI. */
  live?: boolean;
  /** Runs in CI (the `CI` variable of the adapter's environment): concise lines, even on a TTY. */
  ci?: boolean;
  /** Milliseconds between lines in non-live mode. */
  interval?: number;
}

const fmt = new Intl.NumberFormat('en-US');

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const live = options.live ?? (Boolean(stream.isTTY) && !options.ci);
  const interval = options.interval ?? 5000;
  return {
    start(label, { total, unit = 'rows' } = {}) {
      const began = Date.now();
      let lastLine = 0;
      let done = 0;
      let detail = '';
      const line = () => {
        const secs = (Date.now() - began) / 1000;
        const rate = secs > 0 ? ` ${fmt.format(Math.round(done / secs))} ${unit}/s` : '';
        const tail = detail ? ` ${detail}` : '';
        if (total === undefined || total <= 0) return `${label}: ${fmt.format(done)} ${unit}${rate}${tail}`;
        const share = Math.min(1, done / total);
        const bar = live ? ` [${'#'.repeat(Math.round(share * 20)).padEnd(20, '-')}]` : '';
        return `${label}:${bar} ${Math.round(share * 100)}% ${fmt.format(done)}/${fmt.format(total)} ${unit}${rate}${tail}`;
      };
      if (!live) stream.write(`${label}...\n`);
      return {
        update(n, text) {
          done = n;
          detail = text ?? detail;
          const now = Date.now();
          if (live) {
            if (now - lastLine < 100) return;
            lastLine = now;
            stream.write(`\r${line()}\x1b[K`);
          } else if (now - lastLine >= interval && now - began >= interval) {
            lastLine = now;
            stream.write(`${line()}\n`);
          }
        },
        finish(summary) {
          const secs = ((Date.now() - began) / 1000).toFixed(1);
          const text = `${label}: ${summary ?? 'done'} in ${secs}s`;
          stream.write(live ? `\r${text}\x1b[K\n` : `${text}\n`);
        },
      };
    },
  };
}

/** Discards everything: for library callers and tests that do not want output. */
export const silentProgress: Progress = { start: () => ({ update() {}, finish() {} }) };
