import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Backend, BackendPool } from './backends.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import type { Release } from './release.js';

/** Headers about one connection, not the request: never passed on. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
// The backend gets its own host and the buffered body's length; the body goes whole, with no 100-continue.
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect']);
const NOT_RETURNED = new Set(HOP_BY_HOP);

/** Headers the Connection header names are hop-by-hop too. */
const connectionTokens = (value: string | string[] | undefined): ReadonlySet<string> =>
  new Set(
    typeof value === 'string'
      ? value
          .toLowerCase()
          .split(',')
          .map((t) => t.trim())
      : [],
  );

/** `headers` less the hop-by-hop ones and those in `skip`. */
function endToEnd(headers: IncomingHttpHeaders, drop: ReadonlySet<string>, skip: ReadonlySet<string>): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const name in headers) if (!drop.has(name) && !skip.has(name)) kept[name] = headers[name];
  return kept;
}

/** The body up to `limit` bytes, or undefined past it (the rest is never read: the connection must close). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= limit) return void chunks.push(chunk);
      req.removeAllListeners('data');
      req.pause();
      resolve(undefined);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Attempt = { backend: Backend; ms: number } & ({ answer: Answer } | { error: string; timedOut?: true });

/**
 * The time a staged release judges an answer by: the server's own (its `Server-Timing` app
 * duration), else what the proxy measured. A shadow's copy is sent after the champion answered,
 * so the proxy's clock would also count its own busier moment against the shadow.
 */
function served(a: Attempt): number {
  const timing = 'answer' in a ? a.answer.headers['server-timing'] : undefined;
  const dur = typeof timing === 'string' ? /(?:^|,)\s*app;dur=([\d.]+)/.exec(timing)?.[1] : undefined;
  return dur === undefined ? a.ms : Number(dur);
}

/**
 * A shadow's answer against the champion's: a failure of the shadow where the champion answered is
 * the shadow's error; two answers are compared row by row.
 */
function compare(release: Release, champion: Attempt, shadow: Attempt): void {
  const ok = (a: Attempt) => 'answer' in a && a.answer.status < 400;
  const failed = 'error' in shadow || shadow.answer.status >= 500 || (ok(champion) && !ok(shadow));
  release.candidate.observe(!failed, served(shadow));
  if (ok(champion) && ok(shadow)) release.pair((champion as { answer: Answer }).answer.body, (shadow as { answer: Answer }).answer.body);
}

/** No answer within the time given: the backend may have done the work, so only an idempotent request is sent again. */
class UpstreamTimeout extends Error {}

function json(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Forwards requests to backends picked by weight, over node:http with kept-alive connections and
 * on node:http's own request and response: Node 20's fetch took over twice the CPU per forwarded
 * request, and web Request and Response objects most of the rest of the proxy's own share.
 */
export function createForwarder(
  pool: BackendPool,
  metrics: ProxyMetrics,
  {
    timeoutMs,
    maxBodyBytes,
    release = () => undefined,
  }: {
    /** How long a client waits at most, retry included (deploy.proxy.upstream_timeout_ms). */
    timeoutMs: number;
    /** Request bodies are buffered, so a failed request can be sent again; this bounds them (serving.max_body_bytes). */
    maxBodyBytes: number;
    /** The staged release in progress, if any: a shadow to mirror predictions to, or a canary to send some to. */
    release?: () => Release | undefined;
  },
): { forward(req: IncomingMessage, res: ServerResponse): Promise<void>; close(): void } {
  const agents = {
    http: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    https: new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
  };

  /**
   * One request to one backend, its answer read whole within `budget` ms (a total, not an idle
   * timeout: a backend trickling bytes is cut off too). A reset mid-body is retried like a refused connection.
   */
  const send = (backend: Backend, budget: number, method: string, path: string, headers: OutgoingHttpHeaders, body?: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const url = new URL(backend.url);
      const secure = url.protocol === 'https:';
      const settle =
        <T>(done: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          done(v);
        };
      const [answered, failed] = [settle(resolve), settle(reject)];
      const request = (secure ? https : http).request(
        { hostname: url.hostname, port: url.port, method, path, headers, agent: secure ? agents.https : agents.http },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => answered({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          // After 'end' this settles nothing; before it, the answer was cut off.
          res.on('close', () => failed(new Error('the connection closed before the answer was complete')));
        },
      );
      // Settled first, so the errors the destroyed connection raises after it settle nothing.
      const timer = setTimeout(() => {
        failed(new UpstreamTimeout(`no answer within ${Math.round(budget)} ms`));
        request.destroy();
      }, budget);
      request.on('error', failed);
      request.end(body);
    });

  /**
   * Sends a request on to a backend picked by weight and returns its answer. When the backend cannot
   * be reached or answers 503 (draining, or no model yet) the request goes once more to another one:
   * predictions are idempotent, and this is what keeps a rollout free of failed requests. A backend
   * that does not answer in time is taken out of rotation and an idempotent request (a GET, HEAD or
   * a prediction) is retried too; the client has its answer, or a 504, within `timeoutMs` in all.
   */
  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const body = hasBody ? await readBody(req, maxBodyBytes) : undefined;
    // The rest of the body is never read, so the connection cannot carry another request.
    if (hasBody && !body)
      return json(res, 413, { error: `the body is over serving.max_body_bytes (${maxBodyBytes} bytes)` }, { connection: 'close' });
    const deadline = performance.now() + timeoutMs;
    const path = req.url ?? '/';
    const idempotent = !hasBody || /^\/predict(\?|$)/.test(path);
    const headers = endToEnd(req.headers, NOT_FORWARDED, connectionTokens(req.headers.connection));
    if (body) headers['content-length'] = body.byteLength;

    const attempt = async (backend: Backend, budget: number): Promise<Attempt> => {
      const began = performance.now();
      try {
        const answer = await send(backend, budget, method, path, headers, body);
        const ms = performance.now() - began;
        metrics.upstreamLatency.observe({ backend: backend.id, model_version: backend.version }, ms / 1000);
        return { backend, ms, answer };
      } catch (err) {
        const ms = performance.now() - began;
        return { backend, ms, error: (err as Error).message, ...(err instanceof UpstreamTimeout && { timedOut: true as const }) };
      }
    };

    // A staged release judges the new server on predictions only; the champion is what answers otherwise.
    const staged = hasBody && /^\/predict(\?|$)/.test(path) ? release() : undefined;
    const candidate = staged && pool.held();
    const shadow = candidate && staged.spec.mode === 'shadow' && staged.take() ? candidate : undefined;
    const canary = candidate && staged.spec.mode === 'canary' && staged.take() ? candidate : undefined;
    /** A canary's 5xx is a failure to retry on the champion too: its client must not see it. */
    const failure = (a: Attempt) =>
      'error' in a
        ? a.error
        : a.answer.status === 503 || (a.backend === canary && a.answer.status >= 500)
          ? `answered ${a.answer.status}`
          : undefined;
    const timedOut: string[] = [];
    /** Out of rotation: a refusal is checked again at once (it may be a fluke), a hung backend at the next health check. */
    const eject = (a: Attempt, why: string) => {
      if ('timedOut' in a) {
        timedOut.push(a.backend.id);
        pool.takeOut(a.backend, why);
      } else pool.failed(a.backend, why);
    };

    const first = canary ?? pool.pick();
    if (!first) {
      metrics.requests.inc({ backend: 'none', model_version: 'none', status: '503' });
      return json(res, 503, { error: 'no healthy prediction server', backends: pool.list().length });
    }
    // With another backend to retry on, a prediction gets half the time: a hung backend leaves the retry the other half.
    let outcome = await attempt(first, idempotent && (canary || pool.routable() > 1) ? timeoutMs / 2 : timeoutMs);
    const why = failure(outcome);
    if (canary && staged) staged.candidate.observe(!why, served(outcome));
    if (why) {
      // A canary answering 500 is judged by the verdict; only one that cannot answer leaves rotation.
      if (!(outcome.backend === canary && 'answer' in outcome && outcome.answer.status !== 503)) eject(outcome, why);
      // Sent again when the backend never did the work, or the work is idempotent; and only with time
      // left to be fair to the next backend, which a timeout would take out of rotation too.
      const again = (idempotent || !('timedOut' in outcome)) && deadline - performance.now() >= timeoutMs / 4;
      const second = again ? pool.pick(first) : undefined;
      if (second) {
        const reason = 'timedOut' in outcome ? 'timeout' : 'error' in outcome ? 'unreachable' : String(outcome.answer.status);
        metrics.retries.inc({ backend: first.id, reason });
        outcome = await attempt(second, deadline - performance.now());
        const failed = failure(outcome);
        if (failed) eject(outcome, failed);
      }
    }

    const { backend } = outcome;
    const status = 'timedOut' in outcome ? 504 : 'error' in outcome ? 502 : outcome.answer.status;
    // The champion is measured over the same stretch as the new server: while it is in the stage.
    if (staged && candidate && backend !== canary) {
      staged.champion.observe(status < 500, served(outcome));
      // The shadow gets its copy once the client has its answer, so the two never compete for the same
      // cores while a client waits (on one host they would); nobody waits for the shadow.
      if (shadow) setImmediate(() => void attempt(shadow, timeoutMs).then((s) => compare(staged, outcome, s)));
    }
    metrics.requests.inc({ backend: backend.id, model_version: backend.version, status: String(status) });
    if ('timedOut' in outcome) {
      const servers = timedOut.length > 1 ? `servers ${timedOut.join(' and ')}` : `server ${backend.id}`;
      const error = `prediction ${servers} did not answer within deploy.proxy.upstream_timeout_ms (${timeoutMs} ms)`;
      return json(res, 504, { error, timeout_ms: timeoutMs }, { 'x-mlops-backend': backend.id });
    }
    if ('error' in outcome)
      return json(res, 502, { error: `prediction server ${backend.id} failed: ${outcome.error}` }, { 'x-mlops-backend': backend.id });
    backend.served++;
    const { answer } = outcome;
    const out = endToEnd(answer.headers, NOT_RETURNED, connectionTokens(answer.headers.connection));
    out['x-mlops-backend'] = backend.id;
    res.writeHead(status, out);
    res.end(method === 'HEAD' || [204, 205, 304].includes(status) ? undefined : answer.body);
  }

  return {
    forward,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
