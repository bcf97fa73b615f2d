import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import type { HostRequest } from './host-request.js';

/** The frames of a stream without a TTY: an 8-byte header (stream 1 stdout, 2 stderr; size) before each chunk. */
export function demux(buffer: Buffer, streams: ReadonlySet<number> = new Set([1, 2])): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= buffer.length; at += 8 + buffer.readUInt32BE(at + 4)) {
    if (streams.has(buffer[at]!)) parts.push(buffer.subarray(at + 8, at + 8 + buffer.readUInt32BE(at + 4)));
  }
  return Buffer.concat(parts).toString('utf8');
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Node inside the container asks the URL; its answer comes back as one JSON line on stdout. */
const FETCH = `const [url, method, headers, body] = process.argv.slice(1);
fetch(url, { method, headers: JSON.parse(headers), body: body || undefined, signal: AbortSignal.timeout(5000) })
  .then(async (r) => ({ status: r.status, body: await r.text() }), (e) => ({ error: String(e.cause?.code ?? e.message) }))
  .then((answer) => process.stdout.write(JSON.stringify(answer)));`;

/**
 * HTTP on the Docker host's loopback, asked by node inside a container there that shares the
 * host's network (the proxy): the one way to reach it that works for a remote DOCKER_HOST too.
 */
export function execRequest(docker: Docker, container: string): HostRequest {
  return async (url, init = {}) => {
    const exec = await docker.getContainer(container).exec({
      Cmd: ['node', '-e', FETCH, url, init.method ?? 'GET', JSON.stringify(init.headers ?? {}), init.body ?? ''],
      AttachStdout: true,
      AttachStderr: true,
    });
    const out = demux(await collect(await exec.start({ hijack: true, stdin: false })), new Set([1]));
    const answer = JSON.parse(out || '{"error":"no answer"}') as { status: number; body: string } | { error: string };
    if ('error' in answer) throw new Error(`${url}: ${answer.error}`);
    return answer;
  };
}

/** The lines of a file inside a container (running or stopped), or none when it has no such file. */
export async function* containerFileLines(docker: Docker, container: string, path: string): AsyncIterable<string> {
  const tar = await docker
    .getContainer(container)
    .getArchive({ path })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) return undefined;
      throw err;
    });
  if (!tar) return;
  const entries = extract();
  tar.pipe(entries);
  for await (const entry of entries) {
    yield* createInterface({ input: entry as unknown as NodeJS.ReadableStream, crlfDelay: Infinity });
  }
}
