import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { sampleConfig } from '../../bench/sample-config.js';
import { pollUntil } from '../../src/poll.js';
import { stepNames, type StepName } from '../../src/step-names.js';
import { mlopsAsync, type CliResult } from './cli.js';
import { freePort } from './ports.js';

/*
 * Crash injection (issue 23): `mlops run` on the sample config, killed (SIGKILL) right after its Nth
 * file-system write or child-process start by test/helpers/crash-preload.mjs, then checked the way a
 * user recovers: `mlops status`, `mlops models list/show`, `mlops rekick`, `mlops undeploy`. Shared by
 * test/crash.test.ts (a sample of the points) and bench/crash.ts (all of them).
 */

export type CrashTarget = 'none' | 'local';

/** A point of the preload's trace: a write or a child-process start, with the run ledger after each write of it. */
export interface TracePoint {
  n: number;
  op: string;
  path: string;
  to?: string;
  ledger?: { status: string; steps: [string, string][] };
}

const preload = fileURLToPath(new URL('./crash-preload.mjs', import.meta.url));
const runId = 'crash';

/** A root of its own: the sample config with its registry, work folder and logs in it, on free ports. */
async function project(target: CrashTarget, n: number): Promise<{ root: string; config: string }> {
  const root = await mkdtemp(join(tmpdir(), `mlops-crash-${target}-${n}-`));
  const config = await sampleConfig(root);
  config.deploy.target = target;
  config.deploy.proxy.port = await freePort();
  const first = await freePort();
  config.deploy.ports = [first, first + 50];
  await writeFile(join(root, 'mlops.config.yaml'), stringify(config));
  return { root, config: join(root, 'mlops.config.yaml') };
}

/** `mlops run` with the preload, killed after point `crashAt` (0: never), and the points it traced. */
async function tracedRun(root: string, config: string, crashAt: number): Promise<{ run: CliResult; trace: TracePoint[] }> {
  const file = join(root, 'trace.jsonl');
  const env = { ...marker(root), MLOPS_CRASH_AT: String(crashAt), MLOPS_CRASH_TRACE: file };
  const run = await mlopsAsync(['--import', preload], env, '--config', config, 'run', '--run-id', runId);
  const text = await readFile(file, 'utf8').catch(() => '');
  return { run, trace: text.split('\n').flatMap((line) => (line ? [JSON.parse(line) as TracePoint] : [])) };
}

/** The CLI on a root's project. */
type Cli = (...args: string[]) => Promise<CliResult>;
const cliOf =
  (root: string, config: string) =>
  (...args: string[]) =>
    mlopsAsync([], marker(root), '--config', config, ...args);

/** Every process of a root (the run, the proxy and servers it starts) carries this in its environment, to find survivors by. */
const marker = (root: string) => ({ MLOPS_CRASH_POINT: basename(root) });

/** The pids whose environment holds the root's marker. */
function survivors(root: string): number[] {
  const entry = `MLOPS_CRASH_POINT=${basename(root)}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(entry);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** Servers and the proxy run in process groups of their own: the whole group goes. */
function kill(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      return void process.kill(target, 'SIGKILL');
    } catch {
      // no such group, or gone
    }
  }
}

/** A full run, counted and not killed, then undeployed: the points a run of `target` has. */
export async function countPoints(target: CrashTarget): Promise<TracePoint[]> {
  const { root, config } = await project(target, 0);
  try {
    const { run, trace } = await tracedRun(root, config, 0);
    if (run.code !== 0) throw new Error(`the counting run failed: ${outcome(run)}`);
    if (target === 'local') await cliOf(root, config)('undeploy');
    return trace;
  } finally {
    survivors(root).forEach(kill);
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * What a crash at point `n` leaves, by the ledger the run wrote last: no run (no ledger yet), a run
 * that ended, or an interrupted one, with where `mlops status` must say it stopped and the step a
 * rekick must start at (none when every step ended).
 */
export type Expected = { run: 'none' } | { run: 'ended'; status: string } | { run: 'interrupted'; where: string; from?: StepName };

export function expectation(trace: TracePoint[], n: number): Expected {
  const ledger = trace.filter((p) => p.n <= n && p.ledger).at(-1)?.ledger;
  if (!ledger) return { run: 'none' };
  if (ledger.status !== 'running') return { run: 'ended', status: ledger.status };
  const running = ledger.steps.find(([, status]) => status === 'running')?.[0] as StepName | undefined;
  const ended = ledger.steps.filter(([, status]) => status !== 'running');
  const where = running ? `in ${running}` : ended.length ? `after ${ended.at(-1)![0]}` : 'before its first step';
  return { run: 'interrupted', where, from: running ?? stepNames.find((name) => !ended.some(([step]) => step === name)) };
}

const describeExpected = (e: Expected) => (e.run === 'none' ? 'before its ledger' : e.run === 'ended' ? `after it ${e.status}` : e.where);

/** Every `stride`-th point, the first and the last, and the middle point of each of `steps` that the stride misses. */
export function samplePoints(trace: TracePoint[], stride: number, steps: readonly StepName[]): number[] {
  const points = new Set(trace.filter((p) => p.n === 1 || p.n === trace.length || p.n % stride === 0).map((p) => p.n));
  for (const name of steps) {
    const inStep = trace.filter((p) => describeExpected(expectation(trace, p.n)) === `in ${name}`).map((p) => p.n);
    if (!inStep.some((n) => points.has(n))) points.add(inStep[inStep.length >> 1]!);
  }
  return [...points].sort((a, b) => a - b);
}

/** Crashes `target` at each of `points`, `jobs` at a time; `done` hears of each. What went wrong, empty when nothing did. */
export async function sweep(
  target: CrashTarget,
  points: number[],
  jobs: number,
  done: (n: number, failures: string[]) => void = () => {},
): Promise<string[]> {
  const queue = [...points];
  const failures: string[] = [];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const found = await crashAt(target, n);
      failures.push(...found);
      done(n, found);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return failures;
}

const outcome = (r: CliResult) => `exit ${r.code ?? r.signal}: ${(r.stderr.trim().split('\n').at(-1) ?? '').slice(0, 300)}`;

/** The files and folders under `dir` whose names `pattern` matches. */
async function named(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => pattern.test(e.name)).map((e) => join(e.parentPath, e.name));
}

/** Lock files (the registry's, the deploy state's), and what a killed write leaves in the registry: temporary files, staging folders. */
const locks = (root: string) => named(root, /(^|\.)lock$/);
const leftovers = (root: string) => named(join(root, 'registry'), /^\.staging-|\.tmp$/);

/**
 * Kills `mlops run` of `target` right after point `n` and recovers as a user would. Returns what went
 * wrong, empty when nothing did: the registry verifies with at most one version of the run, `mlops
 * status` says where the run stopped, `mlops rekick` ends green from the right step with exactly one
 * version of the run, no lock or leftover is kept, and after `mlops undeploy` no process of the run lives.
 */
export async function crashAt(target: CrashTarget, n: number): Promise<string[]> {
  const { root, config } = await project(target, n);
  const failures: string[] = [];
  const cli = cliOf(root, config);
  try {
    const { run, trace } = await tracedRun(root, config, n);
    if (run.signal !== 'SIGKILL') return [`${target} #${n}: the run was not killed: ${outcome(run)}`];
    const expected = expectation(trace, n);
    const at = trace.at(-1);
    const context = `${target} #${n}, killed after ${at?.op} ${at?.path.replace(root, '')} (${describeExpected(expected)})`;
    const check = (ok: boolean, what: () => string) => void (ok || failures.push(`${context}: ${what()}`));

    const lockedAtCrash = await locks(root);
    const row = await statusRow(cli);
    if (expected.run === 'none') check(row === undefined, () => `status lists a run never started: ${row}`);
    else if (expected.run === 'ended') check(!!row?.includes(` ${expected.status} `), () => `status says ${row}`);
    else
      check(
        !!row?.includes(` interrupted `) && row.includes(`${expected.where} (its process`) && row.includes(`mlops rekick ${runId}`),
        () => `status says ${row}`,
      );
    const before = await registry(cli);
    check(!before.fault && before.ofRun.length <= 1, () => `before the rekick: ${JSON.stringify(before)}`);

    const rekick = await cli('rekick', runId);
    if (expected.run === 'none') {
      check(rekick.code === 2 && rekick.stderr.includes(`no run ${runId}`), () => `rekick of a run never started: ${outcome(rekick)}`);
      const again = await cli('run', '--run-id', runId);
      check(again.code === 0, () => `the run again: ${outcome(again)}`);
    } else {
      check(rekick.code === 0, () => `rekick (locks left: ${lockedAtCrash.join(', ') || 'none'}): ${outcome(rekick)}`);
      const said =
        expected.run === 'ended' ? 'nothing to do' : expected.from ? `rekick ${runId} from ${expected.from}` : 'every step ended';
      check(rekick.stderr.includes(said), () => `rekick did not say "${said}": ${rekick.stderr.split('\n').slice(0, 2).join(' / ')}`);
    }

    const after = await statusRow(cli);
    check(!!after?.includes(' succeeded '), () => `after the rekick, status says ${after}`);
    const recovered = await registry(cli);
    check(!recovered.fault && recovered.ofRun.length === 1, () => `after the rekick: ${JSON.stringify(recovered)}`);
    // The next run that holds the registry lock cleans what killed ones left: the rekick does when it records or deploys.
    const from = expected.run === 'interrupted' ? expected.from : undefined;
    const heldLock = expected.run === 'none' || (!!from && (target === 'local' || stepNames.indexOf(from) <= stepNames.indexOf('record')));
    const left = heldLock ? await leftovers(root) : [];
    check(left.length === 0, () => `the registry keeps what the killed run left: ${left.join(', ')}`);
    const stuck = await locks(root);
    check(stuck.length === 0, () => `locks left after the rekick: ${stuck.join(', ')}`);

    if (target === 'local') {
      const undeploy = await cli('undeploy');
      check(undeploy.code === 0, () => `undeploy: ${outcome(undeploy)}`);
    }
    let living: number[] = [];
    await pollUntil(
      5_000,
      () => (living = survivors(root)).length === 0,
      () => undefined,
    );
    check(living.length === 0, () => `processes left after undeploy: ${living.join(', ')}`);
    // The rekick cleans the run's folder, the undeploy the deploy folder; the registry is checked above.
    const temps = (await named(root, /.\.tmp$/)).filter((path) => !path.startsWith(join(root, 'registry')));
    check(temps.length === 0, () => `temporary files left: ${temps.join(', ')}`);
    return failures;
  } finally {
    survivors(root).forEach(kill);
    await rm(root, { recursive: true, force: true });
  }
}

/** The run's row in `mlops status`. */
const statusRow = async (cli: Cli) => (await cli('status')).stdout.split('\n').find((line) => line.startsWith(`${runId} `));

/**
 * The registry by `mlops models list`, which opens every version and so verifies its checksums: the
 * versions of the run, and what failed.
 */
async function registry(cli: Cli): Promise<{ ofRun: string[]; fault?: string }> {
  const list = await cli('models', 'list');
  if (list.code !== 0) return { ofRun: [], fault: `models list: ${outcome(list)}` };
  const rows = list.stdout.split('\n').filter((line) => /^v\d+ /.test(line));
  return { ofRun: rows.filter((row) => row.split(/\s+/).includes(runId)).map((row) => row.split(' ')[0]!) };
}
