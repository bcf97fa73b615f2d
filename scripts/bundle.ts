/**
 * `npm run bundle`: each action in actions/<name>/ as one ES module, dist/index.js, plus TF.js's
 * WebAssembly binaries beside the bundles that train or score. The bundles are committed, as
 * `actions/typescript-action` does; `npm run bundle -- --check` fails when one is stale.
 *
 * Native and optional modules stay external: DuckDB's binding, tfjs-node, ssh2's optional crypto,
 * pg-native, and esbuild itself (the build action bundles the prediction server at run time). A
 * workflow runs `npm ci` first, so they resolve from the repository's node_modules.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

export const actionNames = ['extract', 'train', 'evaluate', 'gate', 'record', 'build', 'deploy', 'monitor', 'predict'] as const;

/** The runtime GitHub runs the actions on: every action.yml's `runs.using`, and the bundles' esbuild target. */
export const actionRuntime = 'node24';

const root = join(import.meta.dirname, '..');
const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));

/** The files of one action's dist/, in memory: path -> contents. */
async function bundle(name: string): Promise<Map<string, Uint8Array>> {
  const result = await build({
    // The entry is two lines; generating it keeps seven copies of them out of the tree.
    stdin: {
      contents: `import { run } from './src/actions/${name}.js';\nawait run();\n`,
      resolveDir: root,
      sourcefile: `actions/${name}/index.ts`,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: actionRuntime,
    minify: true,
    legalComments: 'none',
    metafile: true,
    write: false,
    outfile: join(root, 'actions', name, 'dist', 'index.js'),
    external: ['@duckdb/*', '@tensorflow/tfjs-node', 'cpu-features', 'pg-native', 'esbuild', '*.node'],
    // CommonJS inside an ES module wants `require` and `__dirname` (TF.js's wasm backend finds its binaries by it).
    banner: {
      js: "import { createRequire } from 'node:module'; import { fileURLToPath } from 'node:url'; const require = createRequire(import.meta.url); const __dirname = fileURLToPath(new URL('.', import.meta.url));",
    },
    logLevel: 'warning',
  });
  const files = new Map(result.outputFiles.map((f) => [f.path, f.contents]));
  if (Object.keys(result.metafile.inputs).some((input) => input.includes('tfjs-backend-wasm'))) {
    for (const wasm of (await readdir(wasmDir)).filter((f) => f.endsWith('.wasm')))
      files.set(join(root, 'actions', name, 'dist', wasm), await readFile(join(wasmDir, wasm)));
  }
  return files;
}

/** The bundles whose committed files differ from a fresh build. */
export async function staleBundles(): Promise<string[]> {
  const stale: string[] = [];
  for (const name of actionNames) {
    for (const [path, contents] of await bundle(name)) {
      const committed = await readFile(path).catch(() => undefined);
      if (!committed || !committed.equals(contents)) stale.push(path.slice(root.length + 1));
    }
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  if (values.check) {
    const stale = await staleBundles();
    if (stale.length) {
      console.error(`stale action bundles: ${stale.join(', ')}\nrun \`npm run bundle\` and commit actions/*/dist`);
      process.exit(1);
    }
    console.log('the committed action bundles are fresh');
  } else {
    for (const name of actionNames) {
      for (const [path, contents] of await bundle(name)) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, contents);
      }
      console.log(`actions/${name}/dist`);
    }
  }
}
