import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  version?: string;
  optional?: boolean;
  engines?: Record<string, string> | string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface PackageJson {
  engines: { node: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const pkg = JSON.parse(await readFile('package.json', 'utf8')) as PackageJson;
const lock = JSON.parse(await readFile('package-lock.json', 'utf8')) as { lockfileVersion: number; packages: Record<string, LockPackage> };
const root = lock.packages['']!;

/** Where node would find `name` from the package installed at `from` (a lock path such as node_modules/a/node_modules/b). */
function resolveInLock(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const path = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[path]) return path;
    if (!dir) return undefined;
  }
}

describe('package-lock.json: what `npm ci` installs', () => {
  it('is in sync with package.json', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
      expect(root[field] ?? {}, field).toEqual(pkg[field] ?? {});
    }
    expect(root.engines).toEqual(pkg.engines);
  });

  // npm can only install a platform's optional native package that the lock lists: a lock made
  // where some were skipped leaves a fork on another OS without DuckDB.
  it.each(['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'])('lists the native DuckDB binding for %s', (platform) => {
    const binding = lock.packages[`node_modules/@duckdb/node-bindings-${platform}`];
    expect(binding?.optional).toBe(true);
    expect(binding?.version).toBe(lock.packages['node_modules/@duckdb/node-bindings']!.version);
  });

  it("lists every package's optional dependencies, for every platform", () => {
    const missing = Object.entries(lock.packages).flatMap(([path, entry]) =>
      Object.keys(entry.optionalDependencies ?? {})
        .filter((name) => !resolveInLock(path, name))
        .map((name) => `${path || '(root)'} -> ${name}`),
    );
    expect(missing).toEqual([]);
  });
});

describe("package.json's engines tell the truth", () => {
  it('admits the Node versions the tests run on: 20 (the machine in CI) and 24 (what the actions run on)', () => {
    expect(semver.satisfies(process.version, pkg.engines.node), process.version).toBe(true);
    expect(semver.intersects(pkg.engines.node, '20')).toBe(true);
    expect(semver.intersects(pkg.engines.node, '24')).toBe(true);
  });

  // Otherwise `npm ci` prints EBADENGINE on a Node that package.json claims to support (as
  // content-type@3, which requires Node 22, did under @actions/github on Node 20).
  it('admits no Node version that an installed package refuses', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .filter(([, entry]) => !Array.isArray(entry.engines) && entry.engines?.node && !semver.subset(pkg.engines.node, entry.engines.node))
      .map(([path, entry]) => `${path}@${entry.version} wants node ${(entry.engines as Record<string, string>).node}`);
    expect(refusing).toEqual([]);
  });
});
