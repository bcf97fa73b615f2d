import { execFile } from 'node:child_process';
import { readFile, realpath, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { MlopsError } from '../errors.js';
import { engineError, followStream, pingEngine } from './docker.js';

/** The files of a minimal root filesystem that runs this machine's node: the binary and what it links. */
export async function hostNodeFiles(node = process.execPath): Promise<{ path: string; from: string }[]> {
  const { stdout } = await promisify(execFile)('ldd', [node]).catch((err: Error) => {
    throw new MlopsError('config', `cannot list the libraries ${node} links: ${err.message}`, {
      hint: 'build the base on a glibc Linux with ldd, or use a published base such as node:20-bookworm-slim',
    });
  });
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
  const libraries = [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  return [{ path: '/usr/local/bin/node', from: node }, ...libraries.map((path) => ({ path, from: path }))];
}

const PASSWD = 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n';
const GROUP = 'root:x:0:\nnode:x:1000:\n';

/**
 * Builds a base image with no pull: this machine's `node` binary and the shared libraries it links,
 * a `node` user (uid 1000), /tmp and a home, imported as a root filesystem tar (`docker import`).
 * It is what tests and CI build on; published bases such as node:20-bookworm-slim work the same way.
 */
export async function buildHostBase(docker: Docker, reference: string, onProgress: (line: string) => void): Promise<{ bytes: number }> {
  await pingEngine(docker, `importing the base image ${reference}`);
  const files = await hostNodeFiles();
  const tar = pack();
  let bytes = 0;
  const add = (name: string, content: Buffer | string, mode = 0o644, owner = 0) => {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    bytes += data.length;
    tar.entry({ name, mode, uid: owner, gid: owner }, data);
  };
  const dir = (name: string, mode = 0o755, owner = 0) => tar.entry({ name, type: 'directory', mode, uid: owner, gid: owner });
  for (const d of ['bin', 'etc', 'lib', 'lib64', 'usr', 'usr/local', 'usr/local/bin', 'home', 'root']) dir(d);
  dir('tmp', 0o1777);
  dir('home/node', 0o755, 1000);
  add('etc/passwd', PASSWD);
  add('etc/group', GROUP);
  for (const { path, from } of files) {
    const real = await realpath(from);
    add(path.slice(1), await readFile(real), (await stat(real)).mode & 0o777);
  }
  tar.finalize();
  const [repo, tag = 'latest'] = reference.split(/:(?=[^:/]+$)/);
  onProgress(`importing ${files.length} files (${Math.round(bytes / 2 ** 20)} MiB) as ${reference}`);
  try {
    // tar-stream's Pack is a streamx Readable, which Node streams accept; only the types differ.
    const stream = await docker.importImage(tar as unknown as NodeJS.ReadableStream, {
      repo,
      tag,
      changes: [
        'ENV PATH=/usr/local/bin:/usr/bin:/bin',
        'USER node',
        'WORKDIR /home/node',
        'LABEL org.opencontainers.image.description="node from the build host"',
      ],
    });
    await followStream(docker, stream, (e) => e.status && onProgress(e.status));
  } catch (err) {
    throw engineError(docker, err, `importing the base image ${reference}`);
  }
  return { bytes };
}
