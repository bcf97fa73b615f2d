import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../scripts/import-cycles.js';

// The layering the code keeps: one core in src/ and serving/, thin adapters around it.
const graph = importGraph();

/** The adapters' environment readers: the one place each adapter reads the environment it hands the core. */
const environmentReaders = ['src/cli/context.ts', 'src/actions/action.ts', 'serving/main.ts', 'serving/proxy-main.ts'];

describe('the module structure', () => {
  it('has no import cycle under src/ and serving/', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('reads the environment only in the adapters, which pass it to the core', () => {
    const readers = [...graph.keys()].filter((file) => readFileSync(file, 'utf8').includes('process.env'));
    expect(readers.sort()).toEqual([...environmentReaders].sort());
  });

  it('keeps what src/ and serving/ share in src/: only the CLI, which starts the servers, imports serving/', () => {
    const importers = [...graph].filter(([file, targets]) => file.startsWith('src/') && targets.some((t) => t.startsWith('serving/')));
    expect(importers.map(([file]) => file).filter((file) => !file.startsWith('src/cli/'))).toEqual([]);
  });
});
