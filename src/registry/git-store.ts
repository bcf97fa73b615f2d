import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { configError, MlopsError } from '../errors.js';
import { withFileLock } from '../file-lock.js';
import { createLogger, logFormat, onRunner, type Logger } from '../log.js';
import { backoffMs } from '../runs/retry.js';
import { redact, registerSecret } from '../secrets.js';
import type { RegistryStore } from './store.js';

const run = promisify(execFile);

const ATTEMPTS = 5;
const WAITS = { attempts: ATTEMPTS, backoff_seconds: 0.2, max_backoff_seconds: 2 };
const AUTHOR = { name: 'mlops', email: 'mlops@users.noreply.github.com' };
const AUTH_FAILED =
  /authentication failed|could not read (username|password)|terminal prompts disabled|permission denied|access denied|returned error: 40[13]/i;
const MOVED_ON = /\[rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref|incorrect old value/i;
const REFUSED = /\[remote rejected\]/i;
const NO_BRANCH = /couldn't find remote ref/i;

/** A failed git command: its message is the line that says why, its output all it said, both redacted. */
class GitFailure extends Error {
  constructor(readonly output: string) {
    const lines = output.trim().split('\n');
    const why = lines.find((l) => /^(fatal|error): |\[(remote )?rejected\]/.test(l)) ?? lines.at(-1) ?? '';
    super(why.replace(/^(fatal|error): /, '').trim() || 'git failed');
  }
}

export interface GitStoreOptions {
  /** A folder of the repository checkout (the config's folder): the working copy shares its objects and credentials. */
  repo: string;
  branch: string;
  /** A remote name such as `origin`, or a URL. */
  remote: string;
  /** The environment git runs with (the run's, not this process's), read at every command. */
  env: NodeJS.ProcessEnv;
  log?: Logger;
}

/**
 * The registry folder kept on a branch of the repository: zero infrastructure, for forks. The folder
 * is a detached git worktree of the checkout, not a separate clone, because the checkout holds the
 * credentials: in a workflow, actions/checkout configures `origin` with the GITHUB_TOKEN (the job
 * needs `permissions: contents: write`), and a clone of the bare URL would not have them.
 *
 * Every read and write starts from the remote's latest commit, holding the lock (a shallow fetch of
 * one branch is cheap, and a long-running server must see a rollback made by another workflow).
 * Every write is committed and pushed; when another writer pushed first, it is redone on the new
 * head. The branch keeps a copy of every finished run's ledger too.
 */
export class GitStore implements RegistryStore {
  readonly runArchive = 'the registry branch';
  private readonly label: string;
  private readonly log: Logger;
  private identity: NodeJS.ProcessEnv = {};
  private ready = false;
  /** The remote commit the working copy was reset to; undefined while the branch does not exist. */
  private head?: string;

  constructor(
    readonly root: string,
    private readonly options: GitStoreOptions,
  ) {
    this.label = withoutCredentials(options.remote);
    this.log = options.log ?? createLogger({ format: logFormat(options.env), annotate: onRunner(options.env) });
  }

  private get where(): string {
    return `the registry branch ${this.options.branch} on ${this.label}`;
  }

  read<T>(work: (root: string) => Promise<T>): Promise<T> {
    return this.withLock(async () => {
      await this.sync();
      return work(this.root);
    });
  }

  /** Applies `work` on the remote's latest commit and pushes it; redone on the new head when another writer pushed first. */
  transact<T>(work: (root: string) => Promise<T>, message: (result: T) => string, waitMs?: number): Promise<T> {
    return this.withLock(async () => {
      for (let attempt = 1; ; attempt++) {
        await this.sync();
        const result = await work(this.root);
        if (await this.publish(message(result))) return result;
        if (attempt === ATTEMPTS) {
          throw new MlopsError('transient', `${this.where} kept moving: gave up writing after ${ATTEMPTS} attempts`, {
            hint: 'too many runs write to the registry at once; rerun this one',
          });
        }
        const wait = backoffMs(WAITS, attempt);
        this.log.warn(`${this.where} moved on while writing; retrying on its new head in ${Math.round(wait)}ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }, waitMs);
  }

  /** The lock sits beside the working copy rather than in it: never committed, never cleaned away. */
  private async withLock<T>(work: () => Promise<T>, waitMs = 120_000): Promise<T> {
    await mkdir(this.root, { recursive: true });
    return withFileLock(`${this.root}.lock`, `the model registry ${this.root}`, work, { waitMs, log: this.log });
  }

  /** Resets the working copy to the remote branch, or empties it while the branch does not exist. */
  private async sync(): Promise<void> {
    if (!this.ready || !existsSync(join(this.root, '.git'))) await this.setUp();
    const { remote, branch } = this.options;
    this.head = await this.git(['fetch', '--quiet', '--depth=1', '--no-tags', remote, `refs/heads/${branch}`]).then(
      () => this.git(['rev-parse', 'FETCH_HEAD']),
      (err: unknown) => {
        if (err instanceof GitFailure && NO_BRANCH.test(err.output)) return undefined; // the first push creates it
        throw this.remoteError(err);
      },
    );
    await this.git(this.head ? ['reset', '--quiet', '--hard', this.head] : ['read-tree', '--empty']);
    await this.git(['clean', '--quiet', '-ffdx']); // what an interrupted write left behind
  }

  /** Commits the working copy on the fetched head and pushes it; false if the branch moved on meanwhile. */
  private async publish(message: string): Promise<boolean> {
    await this.git(['add', '--all']);
    const tree = await this.git(['write-tree']);
    const unchanged = this.head ? tree === (await this.git(['rev-parse', `${this.head}^{tree}`])) : (await this.git(['ls-files'])) === '';
    if (unchanged) return true; // nothing to commit, and no branch started for nothing
    const commit = await this.git(['commit-tree', tree, ...(this.head ? ['-p', this.head] : []), '-m', message]);
    try {
      await this.git(['push', '--quiet', this.options.remote, `${commit}:refs/heads/${this.options.branch}`]);
    } catch (err) {
      if (err instanceof GitFailure && MOVED_ON.test(err.output)) return false;
      throw this.remoteError(err);
    }
    await this.git(['reset', '--quiet', '--soft', commit]);
    return true;
  }

  /** Once per instance (and again if the folder was deleted): the folder is a worktree, the remote exists, commits have an author. */
  private async setUp(): Promise<void> {
    const { repo, remote } = this.options;
    const asConfigError = (message: string, hint: string) => (err: unknown) => {
      throw err instanceof GitFailure ? configError(`${message}: ${err.message}`, hint) : err;
    };
    if (!existsSync(join(this.root, '.git'))) {
      await this.git(['worktree', 'prune'], repo) // forget working copies whose folder was deleted
        .then(() => this.git(['worktree', 'add', '--quiet', '--no-checkout', '--detach', this.root], repo))
        .catch(
          asConfigError(
            `registry.path: cannot make ${this.root} a working copy of the registry branch`,
            'the git-branch registry needs the config inside a git checkout, and registry.path a new or empty folder',
          ),
        );
    }
    if (/^[\w.-]+$/.test(remote)) {
      await this.git(['remote', 'get-url', remote], repo).catch(
        asConfigError(`registry.remote: no remote "${remote}" in the repository at ${repo}`, 'set registry.remote to a remote name or URL'),
      );
    }
    const configured = await this.git(['config', '--get-regexp', '^user\\.(name|email)$']).catch(() => '');
    if (configured.split('\n').length < 2) {
      const { name, email } = AUTHOR;
      this.identity = { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
    }
    this.ready = true;
  }

  private remoteError(err: unknown): unknown {
    if (!(err instanceof GitFailure)) return err;
    if (AUTH_FAILED.test(err.output)) {
      return new MlopsError('config', `git could not authenticate to the registry remote ${this.label}: ${err.message}`, {
        hint: 'in a workflow, check out with actions/checkout and grant the job `permissions: contents: write`',
      });
    }
    if (REFUSED.test(err.output)) {
      return new MlopsError('config', `${this.where} refused the push: ${err.message}`, {
        hint: 'let the workflow push to the branch (branch protection, rulesets)',
      });
    }
    return new MlopsError('transient', `the registry remote ${this.label} is unreachable: ${err.message}`);
  }

  private async git(args: string[], cwd = this.root): Promise<string> {
    try {
      const { stdout } = await run('git', ['-c', 'core.autocrlf=false', ...args], {
        cwd,
        env: {
          ...this.options.env,
          ...this.identity,
          // Messages in English, to classify them; a missing credential fails rather than prompts.
          LC_ALL: 'C',
          GIT_TERMINAL_PROMPT: '0',
          // Never the enclosing checkout: reset and clean there would wipe the user's work.
          ...(cwd === this.root && { GIT_CEILING_DIRECTORIES: dirname(this.root) }),
        },
        timeout: 120_000,
      });
      return stdout.trim();
    } catch (err) {
      const { code, stderr, message } = err as { code?: unknown; stderr?: string; message: string };
      if (code === 'ENOENT')
        throw configError('git is not installed (or not on the PATH)', 'install git, or set registry.backend to folder');
      throw new GitFailure(redact(stderr || message));
    }
  }
}

/** The remote for messages: a URL without its user and password, which are registered as secrets. */
function withoutCredentials(remote: string): string {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    return remote; // a remote name, a path, or user@host:path
  }
  if (!url.username && !url.password) return remote;
  registerSecret(remote);
  // A token may be the whole user part: https://<token>@github.com/owner/repo.
  if (!url.password && /^https?:$/.test(url.protocol)) registerSecret(decodeURIComponent(url.username));
  url.username = url.password = '';
  return url.toString();
}
