import { Worker } from 'node:worker_threads';

export interface LogOptions {
  path: string;
  maxBytes: number;
  maxFiles: number;
  /** Predictions that may wait to be written; past this, new ones are dropped and counted. */
  capacity: number;
  /** Input fields written as "[redacted]". */
  redact: string[];
  /** Told when the writer fails, e.g. the disk is full; the predictions it held count as dropped. */
  onError?: (message: string) => void;
}

/** One request's predictions, as the writer thread needs them to write one line per prediction. */
export interface PredictionEntry {
  time: string;
  requestId: string;
  modelVersion: string;
  latencyMs: number;
  /** The validated request body as received: one record, or `{"instances": [...]}` when `batch`. */
  body: string;
  batch: boolean;
  /** The keys of each record once parsed: the model's features, each given once. */
  fields: number;
  /** The predictions as a JSON array, one object per record: one string is far cheaper to hand over than many. */
  predictions: string;
  rows: number;
  outlierScores: Float32Array;
}

/**
 * A /predict request answered without a prediction (4xx, 5xx): one short line with its status, so
 * `mlops monitor` can compute an error rate. It counts as one line of the log.
 */
export interface FailedRequest {
  time: string;
  requestId: string;
  modelVersion: string;
  latencyMs: number;
  status: number;
}

export type LogEntry = PredictionEntry | FailedRequest;

type Acknowledge = (written: boolean) => void;

/** Lines an entry takes in the log, which is what capacity, written and dropped count. */
export const lineCount = (e: LogEntry): number => ('status' in e ? 1 : e.rows);

/** A batch of entries for the writer thread, numbered so its reply can be matched to it. */
export interface WriterBatch {
  seq: number;
  entries: LogEntry[];
}

/** What the writer thread reports back of batch `seq`. */
export type WriterMessage = { seq: number; written: number } | { seq: number; failed: number; error: string };

/** The writer thread. Under vitest or tsx it is TypeScript, which Node 20 cannot start a worker on: tsx loads it then. */
function startWriter(workerData: object): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./prediction-log-writer.js', import.meta.url), { workerData });
  const writer = JSON.stringify(new URL('./prediction-log-writer.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => tsx.register()).then(() => import(${writer}))`, { eval: true, workerData });
}

/**
 * The prediction log: one JSON line per prediction. Requests hand their entry over and never wait:
 * formatting, writing and size-based rotation run on a writer thread (a spare core while the request
 * thread is busy). At most `capacity` predictions are in flight; past that, new ones are dropped and
 * counted (a metric), so memory stays bounded and no loss is silent.
 */
export class PredictionLog {
  private readonly worker: Worker;
  private pending: LogEntry[] = [];
  /** Who waits for the entries in `pending` to be written, and then for each batch posted. */
  private waiting: Acknowledge[] = [];
  private readonly acks = new Map<number, Acknowledge[]>();
  private seq = 0;
  private posting = false;
  private inFlight = 0;
  private readonly exited: Promise<unknown>;
  private closed = false;
  dropped = 0;
  written = 0;

  constructor(private readonly options: LogOptions) {
    const { path, maxBytes, maxFiles, redact } = options;
    this.worker = startWriter({ path, maxBytes, maxFiles, redact });
    this.worker.unref(); // an idle writer must not keep the process alive; close() flushes
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        for (const seq of [...this.acks.keys()]) this.settle(seq, false);
        resolve(undefined);
      }),
    );
    this.worker.on('message', (m: WriterMessage) => {
      this.settle(m.seq, 'written' in m);
      if ('written' in m) {
        this.inFlight -= m.written;
        this.written += m.written;
      } else if ('failed' in m) {
        this.inFlight -= m.failed;
        this.dropped += m.failed;
        options.onError?.(`prediction log: ${m.failed} predictions not written: ${m.error}`);
      }
    });
    this.worker.on('error', (err) => {
      this.closed = true;
      this.dropped += this.inFlight;
      this.inFlight = 0;
      for (const seq of [...this.acks.keys()]) this.settle(seq, false);
      options.onError?.(`prediction log writer stopped, so predictions are no longer logged: ${err.message}`);
    });
  }

  /** Predictions queued or being written. */
  get depth(): number {
    return this.inFlight;
  }

  /** Hands one request's predictions (or its failure) to the writer; never blocks. Returns false when they were dropped. */
  write(entry: LogEntry): boolean {
    const rows = lineCount(entry);
    if (this.closed || this.inFlight + rows > this.options.capacity) {
      this.dropped += rows;
      return false;
    }
    this.inFlight += rows;
    this.pending.push(entry);
    if (!this.posting) {
      // One message per turn of the event loop, however many requests it served.
      this.posting = true;
      setImmediate(() => this.post());
    }
    return true;
  }

  /**
   * The same, resolved once the entry is in the file (true; the kernel has it, so it outlives a
   * kill -9 of the server), or when it was dropped or could not be written (false): `ack: write`.
   */
  writeAcknowledged(entry: LogEntry): Promise<boolean> {
    if (!this.write(entry)) return Promise.resolve(false);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private post(): void {
    this.posting = false;
    if (!this.pending.length) return;
    const batch: WriterBatch = { seq: ++this.seq, entries: this.pending };
    if (this.waiting.length) this.acks.set(batch.seq, this.waiting);
    this.worker.postMessage(batch);
    this.pending = [];
    this.waiting = [];
  }

  private settle(seq: number, written: boolean): void {
    for (const acknowledge of this.acks.get(seq) ?? []) acknowledge(written);
    this.acks.delete(seq);
  }

  /** Writes everything handed over, closes the file and stops the writer: for shutdown. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.post();
      this.worker.ref();
      this.worker.postMessage({ close: true });
    }
    await this.exited;
  }
}
