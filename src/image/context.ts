import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { pack, type Pack } from 'tar-stream';
import { packageRoot } from '../package-root.js';
import type { Config } from '../config/schema.js';
import { SERVER_SPEC_VARIABLE, type ServerSpec } from '../serving-spec.js';

/** Serving's sources: TypeScript under vitest or tsx, the compiled JavaScript in dist/ otherwise (a bundled action too). */
const here = import.meta.url;
const serving = (name: string) =>
  here.endsWith('.ts') ? join(packageRoot(), 'serving', `${name}.ts`) : join(packageRoot(), 'dist', 'serving', `${name}.js`);

/**
 * The prediction server as one ES module, its prediction-log writer thread (a worker needs a file
 * of its own), and the proxy, which deploy.target docker runs from the same image.
 */
async function bundleServer(): Promise<{ path: string; contents: Uint8Array }[]> {
  const result = await build({
    entryPoints: { server: serving('main'), 'prediction-log-writer': serving('prediction-log-writer'), proxy: serving('proxy-main') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    write: false,
    outdir: '/app',
    // Native and optional: ssh2 (the proxy's dockerode) works without its native parts.
    external: ['@tensorflow/tfjs-node', 'cpu-features', '*.node'],
    // CommonJS inside an ES module wants `require` and `__dirname` (TF.js's wasm backend finds its binaries by it).
    banner: {
      js: "import { createRequire } from 'node:module'; import { fileURLToPath } from 'node:url'; const require = createRequire(import.meta.url); const __dirname = fileURLToPath(new URL('.', import.meta.url));",
    },
    logLevel: 'silent',
  });
  return result.outputFiles.map((f) => ({ path: f.path, contents: f.contents }));
}

/** TF.js's WebAssembly binaries, which its wasm backend loads from beside the bundle. */
async function tfjsWasmFiles(): Promise<string[]> {
  const dist = dirname(createRequire(here).resolve('@tensorflow/tfjs-backend-wasm'));
  return (await readdir(dist)).filter((f) => f.endsWith('.wasm')).map((f) => join(dist, f));
}

/**
 * `docker build`'s health check, with no curl in the image: node asks /health on the port of the
 * container's spec (MLOPS_SERVER_SPEC, else PORT), shifted by a swarm task's slot as the server's is
 * (slotOffset). A script for the container, not a read of this process's environment (test/structure.test.ts).
 */
const HEALTHCHECK = `const { env } = process;\nconst first = env.${SERVER_SPEC_VARIABLE} ? JSON.parse(env.${SERVER_SPEC_VARIABLE}).port : Number(env.PORT ?? 8080);\nconst port = first + (env.MLOPS_TASK_SLOT ? Number(env.MLOPS_TASK_SLOT) - 1 : 0);\nfetch('http://127.0.0.1:' + port + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));\n`;

/** Where the image has its model: the servers' specs name it. */
export const IMAGE_MODEL_DIR = '/app/model';

/** The image's working folder, its user's own: the prediction log goes there. */
export const WORKDIR = '/var/lib/mlops';
/**
 * Where deploy.target docker mounts the project's prediction log volume. The image has it, owned by
 * its user, so that an empty volume mounted there takes that owner and the server can write to it.
 */
export const PREDICTIONS_DIR = `${WORKDIR}/predictions`;

export interface ContextOptions {
  base: string;
  /** The model version folder to bake in (model-in-image). */
  modelDir: string;
  /** The `serving` section of the config, in the image's default spec (/app/serving.json): nothing secret. */
  serving: Config['serving'];
}

/**
 * The build context, in memory: the bundled server, TF.js's wasm files, the model, the serving
 * config and a generated Dockerfile. No RUN step: nothing in the build needs a shell or a network.
 */
export async function buildContext(options: ContextOptions): Promise<Pack> {
  const dockerfile = [
    `FROM ${options.base}`,
    // The user's writable working folder, where the prediction log goes: created by COPY --chown, as the image may have no shell.
    `COPY --chown=1000:1000 work/ ${WORKDIR}/`,
    'COPY app/ /app/',
    `WORKDIR ${WORKDIR}`,
    'USER 1000:1000',
    `ENV NODE_ENV=production PORT=${options.serving.port}`,
    `EXPOSE ${options.serving.port}`,
    'HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.js"]',
    'ENTRYPOINT ["node", "/app/server.js"]',
    '',
  ].join('\n');
  const tar = pack();
  const add = (name: string, data: Uint8Array | string) => {
    const buffer = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    tar.entry({ name, mode: 0o644 }, buffer);
  };
  add('Dockerfile', dockerfile);
  tar.entry({ name: 'work/', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'work/predictions/', type: 'directory', mode: 0o755 }); // PREDICTIONS_DIR
  for (const { path, contents } of await bundleServer()) add(`app/${path.slice('/app/'.length)}`, contents);
  add('app/package.json', '{ "type": "module" }\n');
  add('app/healthcheck.js', HEALTHCHECK);
  // The spec a container runs with when the deploy side hands it none (`docker run` by hand).
  const spec: ServerSpec = { serving: options.serving, port: options.serving.port, host: '127.0.0.1', model_dir: IMAGE_MODEL_DIR };
  add('app/serving.json', `${JSON.stringify(spec, null, 2)}\n`);
  for (const file of await tfjsWasmFiles()) add(`app/${file.split('/').pop()}`, await readFile(file));
  for (const file of await readdir(options.modelDir)) add(`app/model/${file}`, await readFile(join(options.modelDir, file)));
  tar.finalize();
  return tar;
}
