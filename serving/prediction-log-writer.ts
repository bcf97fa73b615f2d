/**
 * The prediction log's writer thread: turns each request's entry into one JSON line per prediction
 * (prediction-lines.ts) and appends them, rotating the file by size.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { lineCount, type WriterBatch, type WriterMessage } from './prediction-log.js';
import { rotatedPath } from '../src/prediction-log-files.js';
import { logLines } from './prediction-lines.js';

const { path, maxBytes, maxFiles, redact } = workerData as { path: string; maxBytes: number; maxFiles: number; redact: string[] };
const port = parentPort!;
const reply = (m: WriterMessage) => port.postMessage(m);

let stream: WriteStream | undefined;
let bytes = 0;
/** Rotated-out files still finishing their last writes; close() waits for them. */
const ending: Promise<void>[] = [];

async function open(): Promise<WriteStream> {
  if (stream) return stream;
  await mkdir(dirname(path), { recursive: true });
  bytes = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  const opened = createWriteStream(path, { flags: 'a' });
  await once(opened, 'open'); // a file that cannot be opened fails this batch, not the thread
  // A failed write is reported by its callback; the next one opens the file afresh.
  opened.on('error', () => stream === opened && (stream = undefined));
  return (stream = opened);
}

/** Renames the files along and starts a new one; the old stream finishes its writes into its renamed file. */
async function rotate(): Promise<void> {
  const old = stream!;
  stream = undefined;
  const rotated = (n: number) => rotatedPath(path, n);
  for (let n = maxFiles - 1; n >= 1; n--) await rename(rotated(n), rotated(n + 1)).catch(() => {});
  await rename(path, rotated(1)).catch(() => {});
  ending.push(new Promise<void>((resolve) => old.end(resolve)));
}

// Messages are handled one at a time, in order, so lines keep the order requests were served in.
let work = Promise.resolve();
port.on('message', (m: WriterBatch | { close: true }) => {
  work = work.then(() => ('entries' in m ? write(m) : close()));
});

/**
 * Appends the entries' lines without waiting for the disk, so the next message is formatted while
 * this one is written; each is acknowledged when its write completes, which is what bounds memory.
 */
async function write({ seq, entries }: WriterBatch): Promise<void> {
  const rows = entries.reduce((n, e) => n + lineCount(e), 0);
  try {
    const text = Buffer.concat(entries.map((e) => logLines(e, redact)));
    const out = await open();
    out.write(text, (err) => reply(err ? { seq, failed: rows, error: err.message } : { seq, written: rows }));
    bytes += text.byteLength;
    if (bytes >= maxBytes) await rotate();
  } catch (err) {
    reply({ seq, failed: rows, error: (err as Error).message });
  }
}

/** Ends the files; closing the port then lets the thread exit, which is what the main thread awaits. */
async function close(): Promise<void> {
  if (stream) ending.push(new Promise<void>((resolve) => stream!.end(resolve)));
  await Promise.all(ending);
  port.close();
}
