// Loaded with `node --import` into `mlops run`: counts every file-system write and child-process start
// of the process ("points") and sends itself SIGKILL right after the Nth, the way crash-consistent
// stores are tested. MLOPS_CRASH_AT=N (0: count only), MLOPS_CRASH_TRACE=<file> gets a JSON line per
// point: its number, the call, its path, and after each write of a run ledger (run.json) the ledger's
// statuses, which say what the run was doing. Plain JavaScript: it loads before anything else.
import { AsyncLocalStorage } from 'node:async_hooks';
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import process from 'node:process';
import { URL } from 'node:url';

const crashAt = Number(process.env.MLOPS_CRASH_AT ?? 0);
const traceFile = process.env.MLOPS_CRASH_TRACE;
// The run's children (the local proxy and servers) are not counted: they must not inherit these.
delete process.env.MLOPS_CRASH_AT;
delete process.env.MLOPS_CRASH_TRACE;

const { appendFileSync, readFileSync } = fs;
let points = 0;
// Node's own functions call each other (writeFile opens and writes): only the outer call counts.
const inner = new AsyncLocalStorage();

/** What the run ledger at `file` says, for the trace; undefined while it cannot be read. */
function ledger(file) {
  try {
    const run = JSON.parse(readFileSync(file, 'utf8'));
    return { status: run.status, steps: run.steps.map((s) => [s.name, s.status]) };
  } catch {
    return undefined;
  }
}

/** One point done: traced, and the process killed when it is the Nth. */
function point(op, args) {
  points += 1;
  const target = args[0] instanceof URL ? args[0].pathname : args[0];
  const destination = /(^|\.)(rename|link|copyFile)/.test(op) ? String(args[1]) : undefined;
  const entry = { n: points, op, path: typeof target === 'string' ? target : `fd ${target}`, to: destination };
  if (destination?.endsWith('/run.json')) entry.ledger = ledger(destination);
  if (op.startsWith('spawn') || op.startsWith('exec') || op === 'fork') entry.path = [args[0], ...(args[1] ?? [])].join(' ');
  // appendFileSync calls writeFileSync: the trace's own write is not counted.
  if (traceFile) inner.run(true, () => appendFileSync(traceFile, JSON.stringify(entry) + '\n'));
  if (points === crashAt) process.kill(process.pid, 'SIGKILL');
}

/** Writes to stdout and stderr are output, not state; opens count only with flags that write. */
function counts(op, args) {
  if (/^writev?(Sync)?$/.test(op) && typeof args[0] === 'number' && args[0] <= 2) return false;
  if (/(^|\.)open(Sync)?$/.test(op)) {
    const flags = args[1] ?? 'r';
    if (typeof flags === 'number') return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT)) !== 0;
    return /[wa+]/.test(flags);
  }
  return true;
}

/** `original`, counted once it completes: by return, by callback or by promise. */
function counted(op, original) {
  return function (...args) {
    if (inner.getStore() || !counts(op, args)) return original.apply(this, args);
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last];
      args[last] = (...results) => inner.exit(() => (point(op, args), callback(...results)));
    }
    const result = inner.run(true, () => original.apply(this, args));
    if (result instanceof Promise)
      return result.then(
        (value) => (point(op, args), value),
        (err) => {
          point(op, args);
          throw err;
        },
      );
    if (typeof args[last] !== 'function') point(op, args);
    return result;
  };
}

const patch = (object, names, prefix = '') => {
  for (const name of names) if (typeof object[name] === 'function') object[name] = counted(prefix + name, object[name]);
};

/** A child process counts once started, when the call returns; exec's own call of execFile does not count. */
let starting = false;
function started(op, original) {
  return function (...args) {
    if (starting) return original.apply(this, args);
    starting = true;
    try {
      return original.apply(this, args);
    } finally {
      starting = false;
      point(op, args);
    }
  };
}

const writes = ['writeFile', 'appendFile', 'write', 'writev', 'rename', 'mkdir', 'mkdtemp', 'link', 'symlink', 'copyFile', 'cp'];
const removals = ['unlink', 'rm', 'rmdir', 'truncate', 'ftruncate', 'open'];
const both = [...writes, ...removals];
patch(fs, [...both, ...both.map((name) => `${name}Sync`)]);
patch(fs.promises, both, 'promises.');
const handle = await fs.promises.open(process.execPath);
patch(Object.getPrototypeOf(handle), ['write', 'writev', 'writeFile', 'appendFile', 'truncate'], 'handle.');
await handle.close();
for (const name of ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync'])
  childProcess[name] = started(name, childProcess[name]);
syncBuiltinESMExports();
