import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface LogOptions {
  path: string;
  maxBytes: number;
  maxFiles: number;
  /** Entries that may wait to be written; past this, new entries are dropped and counted. */
  capacity: number;
}

/**
 * The prediction log: one JSON line per prediction, written off the request path through a bounded
 * queue. A request never waits for the disk; when the disk falls behind, entries are dropped and
 * counted (a metric), so memory stays bounded and no loss is silent. Files rotate by size.
 */
export class PredictionLog {
  private queue: string[] = [];
  private stream?: WriteStream;
  private bytes = 0;
  private flushing?: Promise<void>;
  private closed = false;
  dropped = 0;
  written = 0;

  constructor(private readonly options: LogOptions) {}

  get depth(): number {
    return this.queue.length;
  }

  /** Queues one JSON line (without its newline); never blocks. Returns false when the line was dropped. */
  write(line: string): boolean {
    if (this.closed || this.queue.length >= this.options.capacity) {
      this.dropped++;
      return false;
    }
    this.queue.push(line);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
    return true;
  }

  private async open(): Promise<WriteStream> {
    if (this.stream) return this.stream;
    await mkdir(dirname(this.options.path), { recursive: true });
    this.bytes = await stat(this.options.path).then(
      (s) => s.size,
      () => 0,
    );
    this.stream = createWriteStream(this.options.path, { flags: 'a' });
    return this.stream;
  }

  private async rotate(): Promise<void> {
    const stream = this.stream!;
    this.stream = undefined;
    await new Promise<void>((resolve) => stream.end(resolve));
    const { path, maxFiles } = this.options;
    const rotated = (n: number) => path.replace(/(\.jsonl)?$/, `.${n}$1`);
    for (let n = maxFiles - 1; n >= 1; n--) await rename(rotated(n), rotated(n + 1)).catch(() => {});
    await rename(path, rotated(1)).catch(() => {});
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        const text = batch.join('\n') + '\n';
        const stream = await this.open();
        if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
        this.written += batch.length;
        this.bytes += Buffer.byteLength(text);
        if (this.bytes >= this.options.maxBytes) await this.rotate();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Writes what is queued and closes the file: for shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    if (this.queue.length) await this.drain();
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }
}
