import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StepContext } from '../../src/context.js';
import { describeError, MlopsError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { openRegistry, type Registry } from '../../src/registry/registry.js';
import { Ledger } from '../../src/runs/ledger.js';
import { forkRemote, git } from '../helpers/git-remote.js';
import { modelFileStandIns } from '../helpers/model-files.js';

let root: string;
let remote: string;
let files: string[];
let log: ReturnType<typeof memoryLogger>;

// No global git config: no identity (commits get the mlops author) and no credential helper.
const saved = { ...process.env };
beforeAll(() => Object.assign(process.env, { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' }));
afterAll(() => {
  process.env = saved;
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-git-registry-'));
  remote = await forkRemote(root);
  files = await modelFileStandIns(root);
  log = memoryLogger();
});
afterEach(() => rm(root, { recursive: true, force: true }));

const registryConfig = (overrides: { remote?: string } = {}) => ({
  registry: { backend: 'git-branch' as const, path: '.mlops/registry', branch: 'mlops-registry', remote: 'origin', ...overrides },
});

/** A fresh checkout of the repository, as a workflow run makes, and the registry its config opens. */
async function checkout(name: string, overrides: { remote?: string } = {}): Promise<Registry> {
  await git(root, 'clone', '--quiet', remote, name);
  return openRegistry({ config: registryConfig(overrides), configDir: join(root, name), log, env: process.env });
}

/** The registry branch as anyone cloning the repository sees it. */
async function branchClone(): Promise<string> {
  const dir = await mkdtemp(join(root, 'clone-'));
  await git(root, 'clone', '--quiet', '--branch', 'mlops-registry', remote, dir);
  return dir;
}

const remoteBranch = () => git(remote, 'ls-remote', '--heads', remote, 'mlops-registry');

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: MlopsError) => e,
  );

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('the registry on a git branch', () => {
  it('pushes every write as one commit, visible to anyone who clones the branch', async () => {
    const registry = await checkout('run');
    await registry.register(files, { runId: 'r1', summary: {} });
    await registry.register(files, { runId: 'r2', summary: {} });
    await registry.promote('v1');
    await registry.promote('v2');
    await registry.rollback();
    await registry.tag('v2', { image: 'ghcr.io/o/penguins:v2' });

    const clone = await branchClone();
    expect(JSON.parse(await readFile(join(clone, 'aliases.json'), 'utf8'))).toEqual({ champion: 'v1', previous: 'v2' });
    expect(JSON.parse(await readFile(join(clone, 'versions/v2/tags.json'), 'utf8'))).toEqual({ image: 'ghcr.io/o/penguins:v2' });
    expect((await git(clone, 'log', '--format=%s')).split('\n')).toEqual([
      'tag v2: image',
      'roll back to v1 (from v2)',
      'promote v2 to champion',
      'promote v1 to champion',
      'register v2 (run r2)',
      'register v1 (run r1)',
    ]);
    expect(await git(clone, 'log', '-1', '--format=%an <%ae>')).toBe('mlops <mlops@users.noreply.github.com>');
  });

  it('starts the branch, with only the registry in it, on the first write', async () => {
    const registry = await checkout('run');
    expect(await registry.versions()).toEqual([]);
    expect(await registry.aliases()).toEqual({});
    expect(await remoteBranch()).toBe(''); // reading does not create it

    await registry.register(files, { runId: 'r1', summary: {} });
    const clone = await branchClone();
    expect((await git(clone, 'ls-files')).split('\n')).toEqual(
      ['manifest.json', 'metadata.json', 'model.json', 'preprocess.json', 'weights.bin'].map((f) => `versions/v1/${f}`),
    );
    expect(await git(clone, 'rev-list', '--count', 'HEAD')).toBe('1');
  });

  it("shows one run's writes to another run with its own working copy", async () => {
    const first = await checkout('run-1');
    const second = await checkout('run-2');
    await first.register(files, { runId: 'r1', summary: { accuracy: 0.9 } });
    await first.promote('v1');

    expect(await second.versions()).toEqual(['v1']);
    const { manifest } = await second.open('champion');
    expect(manifest.summary).toEqual({ accuracy: 0.9 });
    expect((await second.register(files, { runId: 'r2', summary: {} })).version).toBe('v2');
    expect(await first.versions()).toEqual(['v1', 'v2']);
  });

  it('lands both of two concurrent writers, each with its own version, on a linear history', async () => {
    const [a, b] = [await checkout('run-a'), await checkout('run-b')];
    const landed: string[] = [];
    for (let round = 0; round < 4; round++) {
      const manifests = await Promise.all([a, b].map((r, i) => r.register(files, { runId: `r${round}-${i}`, summary: {} })));
      landed.push(...manifests.map((m) => m.version));
    }
    expect(landed.sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']);
    expect(await a.versions()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']);

    // Eight commits, each on top of the one before: nobody's push was lost or merged.
    const commits = (await git(remote, 'rev-list', '--parents', 'mlops-registry')).split('\n').map((l) => l.split(' '));
    expect(commits).toHaveLength(8);
    expect(commits.filter((c) => c.length === 1)).toHaveLength(1);
    expect(commits.every((c) => c.length <= 2)).toBe(true);
    // The loser of a race saw the rejected push and redid its write on the winner's commit.
    expect(log.lines.some((l) => l.level === 'warn' && /moved on while writing; retrying/.test(l.message))).toBe(true);
  });

  it('recreates a deleted working copy, and never touches the checkout around it', async () => {
    const registry = await checkout('run');
    await registry.register(files, { runId: 'r1', summary: {} });
    await rm(join(root, 'run/.mlops/registry'), { recursive: true });
    await writeFile(join(root, 'run/notes.txt'), 'work in progress');

    expect((await registry.register(files, { runId: 'r2', summary: {} })).version).toBe('v2');
    expect(await readFile(join(root, 'run/notes.txt'), 'utf8')).toBe('work in progress');
    expect(await git(join(root, 'run'), 'log', '--format=%s')).toBe('init');
  });

  it('still verifies checksums: a corrupted file pushed to the branch is refused on read', async () => {
    const registry = await checkout('run');
    await registry.register(files, { runId: 'r1', summary: {} });
    const clone = await branchClone();
    await writeFile(join(clone, 'versions/v1/weights.bin'), Buffer.from([9, 9, 9, 9]));
    await git(clone, 'commit', '--quiet', '-am', 'tamper');
    await git(clone, 'push', '--quiet');

    const err = await failure(registry.open('v1'));
    expect(err!.errorClass).toBe('data');
    expect(err!.message).toBe('checksum mismatch in registry version v1: weights.bin is corrupted');
  });

  it('checks its files too: a corrupted manifest, aliases.json or tags.json pushed to the branch is a data error naming it', async () => {
    const registry = await checkout('run');
    await registry.register(files, { runId: 'r1', summary: {} });
    await registry.promote('v1');
    const clone = await branchClone();
    const tamper = async (path: string, text: string) => {
      await writeFile(join(clone, path), text);
      await git(clone, 'add', path);
      await git(clone, 'commit', '--quiet', '-m', `tamper with ${path}`);
      await git(clone, 'push', '--quiet');
    };
    const working = (path: string) => join(root, 'run/.mlops/registry', path);
    const expectInvalid = (err: MlopsError | undefined, path: string, what: string) => {
      expect(err).toMatchObject({ errorClass: 'data', code: 'file_invalid' });
      expect(err!.message).toBe(`${working(path)} is not what this version expects: ${what}`);
    };

    await tamper('versions/v1/tags.json', JSON.stringify({ digest: ['sha256:0'] }));
    expectInvalid(await failure(registry.tags('v1')), 'versions/v1/tags.json', 'digest: expected string, got ["sha256:0"]');
    // A write on top of it is refused too, and pushes nothing.
    const head = await remoteBranch();
    expectInvalid(await failure(registry.tag('v1', { image: 'x' })), 'versions/v1/tags.json', 'digest: expected string, got ["sha256:0"]');
    expect(await remoteBranch()).toBe(head);

    await tamper('aliases.json', '{"champion": "v1",');
    expect((await failure(registry.open('champion')))!.message).toMatch(
      `${working('aliases.json')} is not what this version expects: not valid JSON`,
    );

    const manifest = JSON.parse(await readFile(join(clone, 'versions/v1/manifest.json'), 'utf8')) as Record<string, unknown>;
    await tamper('versions/v1/manifest.json', JSON.stringify({ ...manifest, summary: 'good' }));
    expectInvalid(await failure(registry.open('v1')), 'versions/v1/manifest.json', 'summary: expected record, got "good"');
  });

  it('records finished runs on the branch, and a failure to do so only warns', async () => {
    await git(root, 'clone', '--quiet', remote, 'run');
    const ctx = (runId: string, overrides: { remote?: string } = {}) => {
      const config = { project: 'penguins', ...registryConfig(overrides) };
      const configDir = join(root, 'run');
      const registry = openRegistry({ config, configDir, log, env: process.env });
      return {
        runId,
        runDir: join(root, 'work/runs', runId),
        config,
        configDir,
        log,
        env: process.env,
        registry,
      } as unknown as StepContext;
    };
    await (await Ledger.open(ctx('20260101-000000-aaaaaa'), {})).finish('succeeded');
    const clone = await branchClone();
    expect(JSON.parse(await readFile(join(clone, 'runs/20260101-000000-aaaaaa.json'), 'utf8'))).toMatchObject({ status: 'succeeded' });

    const unreachable = `http://127.0.0.1:${await closedPort()}/o/r.git`;
    await (await Ledger.open(ctx('20260101-000001-bbbbbb', { remote: unreachable }), {})).finish('failed');
    expect(log.lines.find((l) => l.level === 'warn')?.message).toContain(
      'could not record the run on the registry branch: error[transient]',
    );
  });
});

describe('when git or the remote fails', () => {
  it('calls an unreachable remote a transient error, naming it', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/o/r.git`;
    const registry = await checkout('run', { remote: url });
    const err = await failure(registry.register(files, { runId: 'r1', summary: {} }));
    expect(err!.errorClass).toBe('transient');
    expect(err!.message).toMatch(new RegExp(`^the registry remote ${url} is unreachable: .*Failed to connect`));
  });

  it('calls refused credentials a config error, and never shows the token', async () => {
    const server: Server = createServer((_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const registry = await checkout('run', { remote: `http://x-access-token:ghs_SeCrEt123@127.0.0.1:${port}/o/r.git` });
      const err = await failure(registry.versions());
      expect(err!.errorClass).toBe('config');
      expect(err!.message).toContain(`git could not authenticate to the registry remote http://127.0.0.1:${port}/o/r.git`);
      expect(describeError(err)).not.toContain('ghs_SeCrEt123');
    } finally {
      server.close();
    }
  });

  it('never shows the token of an unreachable remote either', async () => {
    const registry = await checkout('run', { remote: `https://x-access-token:ghs_SeCrEt123@127.0.0.1:${await closedPort()}/o/r.git` });
    const err = await failure(registry.promote('v1'));
    expect(err!.errorClass).toBe('transient');
    expect(describeError(err)).not.toContain('ghs_SeCrEt123');
  });

  it('says when git is not installed', async () => {
    const registry = await checkout('run');
    const empty = join(root, 'empty-bin');
    await mkdir(empty);
    const path = process.env.PATH;
    process.env.PATH = empty;
    try {
      const err = await failure(registry.versions());
      expect(err!.errorClass).toBe('config');
      expect(err!.message).toBe('git is not installed (or not on the PATH)');
    } finally {
      process.env.PATH = path;
    }
  });
});
