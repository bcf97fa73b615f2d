import type { FailedRequest, LogEntry, PredictionEntry } from './prediction-log.js';

/**
 * A request's entry as prediction-log lines, one JSON line per prediction, assembled as bytes:
 * each record's inputs and each prediction are copied from the request body and the response as
 * they were sent, found by a scan rather than a parse. Parsing, re-serialising and joining strings
 * cost several times more, and serving 250k predictions a second leaves little to spare.
 *
 * The copy is only taken when the scan finds exactly what the server's JSON.parse did: a key written
 * twice (`{"instances":[A],"instances":[B,C]}`, or a record naming a feature twice) is parsed to its
 * last value, so its text would log other inputs than were predicted. Such a body is logged as
 * parsed instead. The check costs the request thread nothing: the scan runs on the writer thread.
 */

// The bytes the scan looks for. In UTF-8 they never occur inside a multi-byte character.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const COLON = 0x3a;

/**
 * The [start, end) byte offsets of the objects at `depth` in JSON: `{"instances": [{...}]}` has its
 * records at depth 3, `[{...}]` its objects at 2, and a lone object is at 1; and how many keys those
 * objects write, a duplicate counted twice. Undefined when a line break sits between tokens
 * (pretty-printed JSON), which a JSON line cannot hold.
 */
export function objectSpans(json: Uint8Array, depth: number): { spans: number[]; keys: number } | undefined {
  const spans: number[] = [];
  let keys = 0;
  let level = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === QUOTE) for (i++; i < json.length && json[i] !== QUOTE; i++) i += json[i] === BACKSLASH ? 1 : 0;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++level === depth) spans.push(i);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (level-- === depth) spans.push(i + 1);
    } else if (c === COLON) keys += level === depth ? 1 : 0;
    else if (c === LINE_FEED || c === CARRIAGE_RETURN) return undefined;
  }
  return { spans, keys };
}

/** Each record re-serialised on one line, with the `redact` fields as "[redacted]", and its spans. */
function reserialised(body: Buffer, batch: boolean, redact: string[]): { json: Buffer; spans: number[] } {
  const parsed = JSON.parse(body.toString()) as Record<string, unknown> & { instances: Record<string, unknown>[] };
  const texts = (batch ? parsed.instances : [parsed]).map((record) =>
    Buffer.from(JSON.stringify(record, (key, v: unknown) => (key && redact.includes(key) ? '[redacted]' : v))),
  );
  const spans: number[] = [];
  let at = 0;
  for (const text of texts) spans.push(at, (at += text.length));
  return { json: Buffer.concat(texts), spans };
}

const OUTPUTS = Buffer.from(',"outputs":');

export function predictionLines(e: PredictionEntry, redact: string[]): Buffer {
  const predictions = Buffer.from(e.predictions);
  const outputs = objectSpans(predictions, 2)!.spans; // the server wrote them, on one line
  const body = Buffer.from(e.body);
  const scan = redact.length ? undefined : objectSpans(body, e.batch ? 3 : 1);
  // As parsed: one object per record, and each writes its fields once.
  const asParsed = scan?.spans.length === 2 * e.rows && scan.keys === e.rows * e.fields;
  const inputs = asParsed ? { json: body, spans: scan.spans } : reserialised(body, e.batch, redact);
  const { spans } = inputs;

  const head = Buffer.from(
    `{"time":"${e.time}","request_id":${JSON.stringify(e.requestId)},"model_version":${JSON.stringify(e.modelVersion)},"inputs":`,
  );
  const latency = `,"latency_ms":${e.latencyMs.toFixed(3)},"outlier_score":`;
  // Room for every line: the copied parts exactly, the score at most 32 bytes and "}\n".
  const out = Buffer.allocUnsafe(inputs.json.length + predictions.length + e.rows * (head.length + OUTPUTS.length + latency.length + 34));
  let at = 0;
  for (let r = 0; r < e.rows; r++) {
    at += head.copy(out, at);
    at += inputs.json.copy(out, at, spans[2 * r], spans[2 * r + 1]);
    at += OUTPUTS.copy(out, at);
    at += predictions.copy(out, at, outputs[2 * r], outputs[2 * r + 1]);
    at += out.write(`${latency}${e.outlierScores[r]!.toFixed(3)}}\n`, at, 'latin1');
  }
  return out.subarray(0, at);
}

/** A failed request's line: no inputs or outputs, its status instead. */
const failureLine = (e: FailedRequest): Buffer =>
  Buffer.from(
    `{"time":"${e.time}","request_id":${JSON.stringify(e.requestId)},"model_version":${JSON.stringify(e.modelVersion)},"status":${e.status},"latency_ms":${e.latencyMs.toFixed(3)}}\n`,
  );

/** An entry's lines: one per prediction, or the failure line. */
export const logLines = (e: LogEntry, redact: string[]): Buffer => ('status' in e ? failureLine(e) : predictionLines(e, redact));
