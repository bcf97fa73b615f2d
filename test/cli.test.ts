import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlops, mlopsWith } from './helpers/cli.js';
import { predict } from './helpers/load.js';
import { freePort } from './helpers/ports.js';

describe('mlops', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlops-cli-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    await rm('.mlops/runs/cli-test', { recursive: true, force: true });
  });

  it('has --help on every command', () => {
    for (const command of [[], ['run'], ['extract'], ['train'], ['scale'], ['data', 'synth'], ['data', 'load']]) {
      const { code, stdout } = mlops(...command, '--help');
      expect(code).toBe(0);
      expect(stdout).toContain('Usage: mlops');
    }
    expect(mlops('extract', '--help').stdout).toContain('--as-of <date>');
  });

  it('extracts the sample data and prints where the artifacts are', async () => {
    const { code, stdout, stderr } = mlops('extract', '--run-id', 'cli-test', '--json');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.rows).toEqual({ read: 344, clean: 344, quarantined: 0 });
    expect(out.split.train + out.split.validation + out.split.test).toBe(344);
    expect(existsSync('.mlops/runs/cli-test/extract/train.parquet')).toBe(true);
    // In CI, progress is a few plain lines, not a redrawn bar.
    expect(stderr).not.toContain('\r');
    expect(stderr).toContain('extract: 344 clean rows');
  });

  it('exits non-zero with one clear line and no stack trace on failure', () => {
    const missing = mlops('extract', '--config', join(root, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^error\[config\]: config file not found: .*nope\.yaml/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);

    const empty = mlops('extract', '--as-of', '1990-01-01', '--run-id', 'cli-test');
    expect(empty.code).toBe(3);
    expect(empty.stderr).toContain('error[data]: no rows for as_of=1990-01-01');

    expect(mlops('extract', '--as-of', '2009-13-45', '--run-id', 'cli-test').code).toBe(2);
    expect(mlops('data', 'synth', '--rows', 'many').code).toBe(2);
  });

  it('refuses to scale a target with one server per version, and a count that is not one', () => {
    const local = mlops('scale', '3');
    expect(local.code).toBe(2);
    expect(local.stderr.trim()).toBe(
      'error[config]: deploy.target local runs one server per version: there is nothing to scale (deploy.target swarm runs deploy.replicas tasks of each)',
    );
    expect(mlops('scale', 'zero').stderr).toContain('expected a whole number of tasks, 1 or more; got "zero"');
  });

  it("holds --replicas and --release to the config's rules, with the error the same key in the file gets", async () => {
    const swarm = (await readFile('mlops.config.yaml', 'utf8')).replace('target: local', 'target: swarm');
    /** `mlops deploy` on the swarm config, its `release: direct` line replaced by `lines`. */
    const deploy = async (lines: string, ...flags: string[]) => {
      const file = join(root, `swarm-${flags.length ? 'flags' : 'file'}.yaml`);
      await writeFile(file, swarm.replace('  release: direct\n', `${lines}\n`));
      return mlops('deploy', '--config', file, ...flags);
    };

    const tooMany = await deploy('  release: direct', '--replicas', '9');
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr.trim()).toBe('error[config]: deploy.replicas: 9 is over deploy.swarm.max_replicas (8): raise that too, got 9');
    expect(tooMany.stderr).toBe((await deploy('  release: direct\n  replicas: 9')).stderr);

    const shadow = await deploy('  release: direct', '--release', 'shadow');
    expect(shadow.code).toBe(2);
    expect(shadow.stderr).toMatch(
      /^error\[config\]: deploy\.release: a shadow stage holds one server out of rotation, .*: deploy\.target swarm releases directly/,
    );
    expect(shadow.stderr).toBe((await deploy('  release: shadow')).stderr);
  });

  it('exits 5, a transient failure worth a retry, when the warehouse cannot be reached', async () => {
    const file = join(root, 'postgres.yaml');
    await writeFile(file, (await readFile('mlops.config.yaml', 'utf8')).replace('kind: duckdb', 'kind: postgres'));
    const dead = `postgres://mlops:secret-pw@127.0.0.1:${await freePort()}/none`;
    const { code, stderr } = mlopsWith({ MLOPS_PG_URL: dead }, 'extract', '--config', file, '--run-id', 'cli-test');
    expect(code).toBe(5);
    expect(stderr).toMatch(/^error\[transient\]: PostgreSQL is unreachable/m);
    expect(stderr).not.toContain('secret-pw');
  });

  it('shows the stack trace only with --debug', () => {
    const { stderr } = mlops('extract', '--as-of', '1990-01-01', '--run-id', 'cli-test', '--debug');
    expect(stderr).toMatch(/\n\s+at /);
  });

  it('generates synthetic data with anomalies that the generated contract quarantines', async () => {
    const out = join(root, 'synth');
    expect(mlops('data', 'synth', '--rows', '5000', '--out', out).code).toBe(0);
    const { code, stdout } = mlops('extract', '--config', join(out, 'mlops.config.yaml'), '--run-id', 'synth', '--json');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.rows.read).toBe(5000);
    expect(result.rows.quarantined).toBeGreaterThan(0);
    const report = JSON.parse(await readFile(join(out, '.mlops/runs/synth/extract/contract.json'), 'utf8'));
    expect(Object.keys(report.rules)).toEqual(expect.arrayContaining(['x03:range', 'label:not_null']));
    expect(report.columns.x01.coerced).toBeGreaterThan(0);
  });
});

describe('mlops run', () => {
  let dir: string;
  let proxy: string;
  beforeAll(async () => {
    // The shipped config, with its own registry and work folder, reading the shipped sample data,
    // releasing to local processes behind a proxy on ports no other test uses.
    dir = await mkdtemp(join(tmpdir(), 'mlops-cli-run-'));
    const [proxyPort, firstServer] = [await freePort(), await freePort()];
    proxy = `http://127.0.0.1:${proxyPort}`;
    const text = (await readFile('mlops.config.yaml', 'utf8'))
      .replace("'data/penguins_raw.csv'", `'${join(process.cwd(), 'data/penguins_raw.csv')}'`)
      .replace('proxy: { port: 8000,', `proxy: { port: ${proxyPort},`)
      .replace('ports: [8100, 8199]', `ports: [${firstServer}, ${firstServer + 50}]`);
    await writeFile(join(dir, 'mlops.config.yaml'), text);
  });
  afterAll(async () => {
    mlops('undeploy', '--config', join(dir, 'mlops.config.yaml'));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the pipeline end to end on the embedded defaults: the blessed model serves through the proxy', async () => {
    const { code, stdout } = mlops('run', '--config', join(dir, 'mlops.config.yaml'), '--run-id', 'one');
    expect(code).toBe(0);
    expect(stdout).toMatch(/training\s+\d+ epochs on wasm/);
    expect(stdout).toContain('gate PASSED');
    expect(stdout).toContain(`released  v1 is the champion and serves on ${proxy}/predict`);
    expect(existsSync(join(dir, '.mlops/runs/one/train/model/model.json'))).toBe(true);
    const res = await predict(proxy);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mlops-backend')).toMatch(/^v1-/);
  });

  it('exits non-zero and says so plainly when the gate rejects the model', async () => {
    const text = (await readFile(join(dir, 'mlops.config.yaml'), 'utf8')).replace('accuracy: { lower: 0.9', 'accuracy: { lower: 1.01');
    await writeFile(join(dir, 'strict.yaml'), text);
    const { code, stdout, stderr } = mlops('run', '--config', join(dir, 'strict.yaml'), '--run-id', 'two');
    expect(code).toBe(4);
    expect(stdout).toContain('gate REJECTED');
    expect(stdout).toContain('released  nothing: the champion stays');
    expect(stderr).toContain('error[quality]: the model failed the gate: accuracy (all) lower');
  });

  it('mlops gate exits 4 when a gated metric could not be computed, naming the rule it could not judge', async () => {
    // evaluation.json as evaluate writes a NaN metric: JSON has no NaN, so the file holds null.
    const runs = join(dir, '.mlops/runs');
    await cp(join(runs, 'one'), join(runs, 'unjudged'), { recursive: true });
    const file = join(runs, 'unjudged/evaluate/evaluation.json');
    const evaluation = JSON.parse(await readFile(file, 'utf8')) as { metrics: Record<string, unknown> };
    evaluation.metrics.log_loss = null;
    await writeFile(file, JSON.stringify(evaluation));
    const { code, stdout, stderr } = mlops('gate', '--config', join(dir, 'mlops.config.yaml'), '--run-id', 'unjudged');
    expect(code).toBe(4);
    expect(stdout).toMatch(/^gate REJECTED/);
    expect(stdout).toContain("  FAIL  log_loss (all) upper: not judged, the candidate's log_loss is NaN (undefined on these rows)");
    expect(stderr).toMatch(/^error\[quality\]: the model failed the gate: log_loss \(all\) upper: not judged/);
  });

  it('exits 3 naming the file and its first bad key when a run file was damaged, and runs nothing on it', async () => {
    const config = join(dir, 'mlops.config.yaml');
    const runs = join(dir, '.mlops/runs');
    await cp(join(runs, 'one'), join(runs, 'damaged'), { recursive: true });
    const evaluation = join(runs, 'damaged/evaluate/evaluation.json');
    const parsed = JSON.parse(await readFile(evaluation, 'utf8')) as { metrics: Record<string, unknown> };
    parsed.metrics.accuracy = 'high';
    await writeFile(evaluation, JSON.stringify(parsed));
    const gate = mlops('gate', '--config', config, '--run-id', 'damaged');
    expect(gate.code).toBe(3);
    expect(gate.stderr).toMatch(
      /^error\[data\]: \S+damaged\/evaluate\/evaluation\.json is not what this version expects: metrics\.accuracy: /,
    );
    expect(gate.stderr).not.toMatch(/\n\s+at /);

    // A truncated ledger is not taken for a new run, which would forget what the run did.
    const ledger = join(runs, 'damaged/run.json');
    await writeFile(ledger, (await readFile(ledger, 'utf8')).slice(0, 40));
    const rekick = mlops('rekick', 'damaged', '--config', config, '--from', 'gate');
    expect(rekick.code).toBe(3);
    expect(rekick.stderr).toMatch(/^error\[data\]: \S+damaged\/run\.json is not what this version expects: not valid JSON/);
    // The status list still shows the other runs.
    expect(mlops('status', '--config', config).stdout).toMatch(/^one /m);
  });

  it('lists, shows, promotes and rolls back registry versions', () => {
    const config = join(dir, 'mlops.config.yaml');
    const list = mlops('models', 'list', '--config', config);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/v1\s+champion\s/);
    const shown = JSON.parse(mlops('models', 'show', 'champion', '--config', config).stdout);
    expect(shown).toMatchObject({ version: 'v1', runId: 'one', importance: { metric: 'accuracy', repeats: 5, rows: expect.any(Number) } });
    // What the model relies on, most first: every input column with its drop and spread.
    expect(shown.importance.columns[0]).toEqual({ column: expect.any(String), drop: expect.any(Number), std: expect.any(Number) });
    const rollback = mlops('models', 'rollback', '--config', config);
    expect(rollback.code).toBe(2);
    expect(rollback.stderr).toContain('error[config]: there is no previous version to roll back to');
    expect(mlops('models', 'promote', 'v9', '--config', config).stderr).toContain(
      'error[data]: "v9" points at version v9, which is missing',
    );
  });

  it('releases the next blessed model beside the running one, retires the old, and rolls back to it', async () => {
    const config = join(dir, 'mlops.config.yaml');
    // The champion's own data, config and code: nothing new to train, and the run says how to train anyway.
    const again = mlops('run', '--config', config, '--run-id', 'again');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      'trained   nothing new: the data, config and code are those of the champion v1 (--retrain to train anyway)',
    );
    expect(mlops('run', '--config', config, '--run-id', 'three', '--retrain').stdout).toContain('released  v2 is the champion');
    expect((await predict(proxy)).headers.get('x-mlops-backend')).toMatch(/^v2-/);
    const backends = (await (await fetch(`${proxy}/backends`)).json()) as { version: string }[];
    expect(backends.map((b) => b.version)).toEqual(['v2']);

    const rollback = mlops('rollback', '--config', config);
    expect(rollback.stdout).toMatch(/^v1 serves on/);
    expect((await predict(proxy)).headers.get('x-mlops-backend')).toMatch(/^v1-/);
    expect(mlops('models', 'list', '--config', config).stdout).toMatch(/v1\s+champion\s/);
  });
});
