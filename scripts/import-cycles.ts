// The import cycles among the modules under src/ and serving/, type-only imports included: a cycle
// is a knot in the structure even when it costs nothing at runtime. `npm run check:cycles` prints
// them and exits 1 if there is one; test/structure.test.ts runs the same check in the suite.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Each module's relative imports, as paths from the repository root (`./x.js` → `src/x.ts`). */
export function importGraph(dirs = ['src', 'serving']): Map<string, string[]> {
  const files = dirs.flatMap(sources);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, false);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(root, resolve(root, dirname(file), name)).replace(/\.js$/, '.ts'))
      .filter((path) => known.has(path));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every strongly connected group of two or more modules (or one that imports itself), by Tarjan's algorithm. */
export function importCycles(graph = importGraph()): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    for (let member = ''; member !== node;) {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    }
    if (group.length > 1 || graph.get(node)?.includes(node)) cycles.push(group.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cycles = importCycles();
  for (const group of cycles) console.log(`import cycle: ${group.join(' ↔ ')}`);
  console.log(cycles.length ? `${cycles.length} import cycle(s) under src/ and serving/` : 'no import cycle under src/ and serving/');
  process.exit(cycles.length ? 1 : 0);
}
