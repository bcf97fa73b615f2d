import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { git } from '../git-remote.js';
import { report, type JobRuntime, type StepOutcome } from './steps.js';

const exec = promisify(execFile);

/** What the stand-ins share with the harness: the repository checked out, its remote, the artifact store, the run. */
export interface Machine {
  /** This repository, whose node_modules and build every workspace links. */
  source: string;
  /** The repository at the run's commit, which every checkout clones. */
  repository: string;
  /** The bare repository that is every workspace's `origin`. */
  remote: string;
  /** Artifacts, `<artifacts>/<run id>/<name>/`: one store for every attempt of a run. */
  artifacts: string;
  runId: string;
}

type StandIn = (inputs: Record<string, string>, job: JobRuntime, machine: Machine) => Promise<StepOutcome>;

const done = (ok = true): StepOutcome => ({ ok, outputs: {} });
/** A failure as the action reports it: an `::error::` annotation and a failed step. */
const fail = (job: JobRuntime, message: string) => (report(job, `::error::${message}\n`), done(false));
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** The files under `path` (a file or a folder), relative to `root`; hidden ones below `path` only when asked. */
async function filesUnder(path: string, root: string, hidden: boolean): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [relative(root, path)];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = entries.filter((e) => hidden || !e.name.startsWith('.')).map((e) => filesUnder(join(path, e.name), root, hidden));
  return (await Promise.all(nested)).flat();
}

/**
 * The third-party actions the workflows use, each doing on this machine what it does on GitHub, as
 * far as the workflows depend on it; a `uses:` of any other stops the run. One program stands in
 * too: `npm`, first on PATH, for which `npm ci` installs nothing (npmShim below).
 */
export const standIns: Record<string, StandIn> = {
  /**
   * A fresh workspace, as on a fresh runner: a clone of the run's commit (GITHUB_SHA: this
   * repository's working tree and the fixture's files), whose `origin` is the test's bare
   * repository, so that the registry's git-branch backend pushes there. node_modules is linked, not
   * installed. Not kept: `ref`, fetch-depth, the token in git's config.
   */
  'actions/checkout': async (_inputs, job, machine) => {
    await git(job.workspace, 'clone', '--quiet', machine.repository, '.');
    await git(job.workspace, 'remote', 'set-url', 'origin', machine.remote);
    await symlink(join(machine.source, 'node_modules'), join(job.workspace, 'node_modules'));
    return done();
  },

  /** Keeps nothing but the name: the steps run on the Node on PATH, whatever node-version asks; no npm cache. */
  'actions/setup-node': async (_inputs, job) => (report(job, `node ${process.version}\n`), done()),

  /**
   * Copies the files into the run's store under the name, relative to the paths' common folder.
   * Keeps: the 409 on a name the run already has (any attempt) unless `overwrite`,
   * `if-no-files-found` (warn by default), hidden files left out unless `include-hidden-files`.
   * Not kept: wildcards and `!` exclusions in `path`, retention, compression, the artifact id and URL.
   */
  'actions/upload-artifact': async (inputs, job, machine) => {
    const paths = inputs
      .path!.split('\n')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => resolve(job.workspace, p));
    const found = [];
    for (const path of paths) if (await exists(path)) found.push(path);
    const root = found.length === 1 && (await stat(found[0]!)).isDirectory() ? found[0]! : commonFolder(found);
    const files = (await Promise.all(found.map((p) => filesUnder(p, root, inputs['include-hidden-files'] === 'true')))).flat();
    if (!files.length) {
      const message = `No files were found with the provided path: ${inputs.path}. No artifacts will be uploaded.`;
      const level = inputs['if-no-files-found'] || 'warn';
      if (level === 'error') return fail(job, message);
      if (level === 'warn') report(job, `::warning::${message}\n`);
      return done();
    }
    const target = join(machine.artifacts, machine.runId, inputs.name || 'artifact');
    if (await exists(target)) {
      if (inputs.overwrite !== 'true')
        return fail(
          job,
          'Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run',
        );
      await rm(target, { recursive: true });
    }
    for (const file of files) await cp(join(root, file), join(target, file));
    report(job, `Artifact ${inputs.name} has been successfully uploaded! Final size is ${files.length} files\n`);
    return done();
  },

  /**
   * Copies an artifact of this run, or of the run `run-id` names (a rekick), into `path`; without
   * a name, every artifact into `path/<name>/`. Keeps: "Artifact not found" failing the step.
   * Not kept: the token's access check, `pattern`, `merge-multiple`, digests.
   */
  'actions/download-artifact': async (inputs, job, machine) => {
    const store = join(machine.artifacts, inputs['run-id'] || machine.runId);
    const path = resolve(job.workspace, inputs.path || '.');
    if (!inputs.name) {
      if (await exists(store)) await cp(store, path, { recursive: true });
      return done();
    }
    if (!(await exists(join(store, inputs.name))))
      return fail(job, `Unable to download artifact(s): Artifact not found for name: ${inputs.name}`);
    await cp(join(store, inputs.name), path, { recursive: true });
    return done();
  },
};

/** The folder the paths' files are named from in an artifact: their longest common parent. */
function commonFolder(paths: string[]): string {
  const [first = [], ...rest] = paths.map((p) => dirname(p).split('/'));
  const end = first.findIndex((part, i) => rest.some((p) => p[i] !== part));
  return first.slice(0, end < 0 ? undefined : end).join('/') || '/';
}

/**
 * `npm` first on PATH: `npm ci` installs nothing, since every checkout links the repository's
 * node_modules, and links the repository's own build (dist/, which `npm ci`'s prepare script
 * would compile) instead; anything else goes to the real npm.
 */
export async function npmShim(bin: string, source: string): Promise<void> {
  const npm = (await exec('bash', ['-c', 'command -v npm'])).stdout.trim();
  await mkdir(bin, { recursive: true });
  const script = `#!/bin/bash\nif [ "$1" = ci ]; then exec ln -sfn ${JSON.stringify(join(source, 'dist'))} dist; fi\nexec ${JSON.stringify(npm)} "$@"\n`;
  await writeFile(join(bin, 'npm'), script);
  await chmod(join(bin, 'npm'), 0o755);
}
