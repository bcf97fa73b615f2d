import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { StepContext } from '../../src/context.js';
import type { memoryLogger } from '../../src/log.js';
import { monitor } from '../../src/monitor/monitor.js';
import { openRegistry } from '../../src/registry/registry.js';
import { contextFor, isolatedConfig, trainedRun } from '../helpers/model.js';
import { logIn, send, servedLog, shifted, trainRecords } from './traffic.js';
import { mlopsFromSources } from '../helpers/cli.js';

let root: string;
let config: Config;
/** The lines of a real log: the training rows, served one request each. */
let lines: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-monitor-input-'));
  config = await isolatedConfig(root);
  config.monitoring.min_volume = 100;
  const { ctx } = await trainedRun(config, 'train-1');
  const records = await trainRecords(ctx);
  const log = await servedLog(config, logIn(root, 'served'), (url) => send(url, records));
  lines = (await readFile(log, 'utf8')).trim().split('\n');
}, 120_000);
afterAll(() => rm(root, { recursive: true, force: true }));

const context = (runId: string) => contextFor(config, runId);
const warnings = (ctx: StepContext) =>
  (ctx.log as ReturnType<typeof memoryLogger>).lines.filter((l) => l.level === 'warn').map((l) => l.message);
const write = async (name: string, text: string[]) => {
  const file = join(root, 'input', name);
  await mkdir(join(root, 'input'), { recursive: true });
  await writeFile(file, text.join('\n') + '\n');
  return file;
};

describe('mlops monitor on bad input', () => {
  it('counts and skips malformed lines with a warning naming file:line, and judges the rest', async () => {
    const file = await write('malformed.jsonl', [
      lines[0]!,
      'not json at all',
      lines[1]!,
      lines[2]!.slice(0, 60), // a line cut short, as the last line of a log being written is
      '{"time":"yesterday","model_version":"v1","latency_ms":1}',
      ...lines.slice(3),
    ]);
    const ctx = await context('bad-lines');
    const report = await monitor(ctx, { logs: [file] });
    expect(report.lines).toEqual({ read: lines.length + 2, inWindow: lines.length - 1, malformed: 3 });
    expect(report.versions[0]!.predictions).toBe(lines.length - 1);
    expect(warnings(ctx)).toEqual([
      expect.stringMatching(new RegExp(`^monitor: ${file}:2: not JSON .*; the line is skipped$`)),
      expect.stringMatching(new RegExp(`^monitor: ${file}:4: not JSON`)),
      `monitor: ${file}:5: no valid "time"; the line is skipped`,
    ]);
  });

  it('measures a version the registry does not have on its traffic alone, says why, and keeps no history for it', async () => {
    const file = await write(
      'unknown.jsonl',
      lines.map((l) => l.replace('"model_version":"v1"', '"model_version":"v9"')),
    );
    const ctx = await context('unknown-version');
    const [v9] = (await monitor(ctx, { logs: [file] })).versions;
    expect(v9).toMatchObject({ version: 'v9', inRegistry: false, predictions: lines.length, psi: {}, classPsi: null, breaches: [] });
    expect(v9!.outlierRate).not.toBeNull();
    expect(v9!.notJudged).toContain('drift and class shift: the version is not in the registry, so there is no training reference');
    expect(warnings(ctx)).toEqual([expect.stringContaining('the log has predictions of v9, which the registry cannot give')]);
    expect(await openRegistry({ config, configDir: process.cwd(), env: process.env }).monitoringHistory('v9')).toEqual([]);
  });

  it('judges nothing in an empty window and says so', async () => {
    const ctx = await context('empty-window');
    const report = await monitor(ctx, { logs: [logIn(root, 'served')], window: '1h', until: new Date('2020-01-01T00:00:00Z') });
    expect(report.versions).toEqual([]);
    expect(report.lines).toMatchObject({ inWindow: 0, malformed: 0 });
    expect(warnings(ctx)).toEqual([
      expect.stringContaining('monitor: no predictions logged from 2019-12-31T23:00:00.000Z to 2020-01-01T00:00:00.000Z'),
    ]);
    const saved = JSON.parse(await readFile(join(ctx.runDir, 'monitor', 'report.json'), 'utf8'));
    expect(saved).toMatchObject({ format: 'mlops-monitor-report/1', versions: [] });
  });

  it('reads a log with its rotated files, and wildcards', async () => {
    const current = await write('p.jsonl', lines.slice(0, 50));
    await write('p.1.jsonl', lines.slice(50, 120));
    await write('p.2.jsonl', lines.slice(120));
    const ctx = await context('rotated');
    expect((await monitor(ctx, { logs: [current] })).versions[0]!.predictions).toBe(lines.length);
    const all = await monitor(await context('wildcard'), { logs: [join(root, 'input', 'p.*.jsonl')] });
    expect(all.sources.map((s) => s.split('/').at(-1)).sort()).toEqual(['p.1.jsonl', 'p.2.jsonl']);
  });

  it.each([
    [{ logs: ['/nowhere/p.jsonl'] }, /^--log \/nowhere\/p\.jsonl: no such file or folder$/],
    [{ logs: ['/tmp/*-no-such-log-*.jsonl'] }, /matches no file/],
    [{ window: 'soon' }, /--window: expected a duration such as 30m, 1h or 7d, got "soon"/],
    [{ until: new Date('not a time') }, /--until: expected an ISO time/],
  ])('refuses %j with a config error that says what to give', async (options, message) => {
    await expect(monitor(await context('refused'), options)).rejects.toMatchObject({
      errorClass: 'config',
      message: expect.stringMatching(message),
    });
  });
});

describe('the mlops monitor command', () => {
  const mlops = mlopsFromSources;
  let file: string;
  let drifted: string;
  beforeAll(async () => {
    file = join(root, 'mlops.config.yaml');
    await writeFile(file, stringify(config));
    const records = await trainRecords(await context('train-1'));
    drifted = await servedLog(config, logIn(root, 'drifted'), (url) => send(url, shifted(records, 'body_mass_g', 1500)));
  }, 60_000);

  it('has --help', () => {
    const { code, stdout } = mlops('monitor', '--help');
    expect(code).toBe(0);
    for (const flag of ['--window <duration>', '--until <time>', '--log <file...>', '--json', '--fail-on-breach'])
      expect(stdout).toContain(flag);
  });

  it('prints a table per version, and exits 0 on a breach unless --fail-on-breach', () => {
    const text = mlops('--config', file, 'monitor', '--log', drifted);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^version +verdict +predictions/m);
    expect(text.stdout).toMatch(/^v1 +\d+ breached/m);
    expect(text.stdout).toContain('v1: drift (PSI) of body_mass_g is');
    const json = mlops('--config', file, 'monitor', '--log', drifted, '--json');
    expect(JSON.parse(json.stdout).versions[0].breaches).toContainEqual(expect.objectContaining({ metric: 'psi', feature: 'body_mass_g' }));
    const strict = mlops('--config', file, 'monitor', '--log', drifted, '--fail-on-breach');
    expect(strict.code).toBe(4);
    expect(strict.stderr).toMatch(/^error\[quality\]: v1 breached monitoring thresholds/m);
  });

  it('fails a missing log with a clear error line and no stack trace', () => {
    const { code, stderr } = mlops('--config', file, 'monitor', '--log', join(root, 'nope.jsonl'));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n').at(-1)).toMatch(
      /^error\[config\]: --log .*nope\.jsonl: no such file or folder \(name a prediction log/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
