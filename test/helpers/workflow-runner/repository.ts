import { execFile } from 'node:child_process';
import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { git } from '../git-remote.js';

const exec = promisify(execFile);

/**
 * The repository the runs check out, in `dir`: the files of this one's working tree that a commit
 * would take (tracked ones with their uncommitted edits, and new ones .gitignore admits), copied
 * once, so that edits made while the tests run do not reach them.
 */
export async function snapshot(source: string, dir: string): Promise<void> {
  const tracked = (
    await exec('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: source, maxBuffer: 1 << 24 })
  ).stdout
    .split('\0')
    // node_modules is linked into each checkout; a symlinked one (a git worktree's) escapes .gitignore's `node_modules/`.
    .filter((file) => file && file !== 'node_modules');
  for (const file of tracked) {
    const exists = await stat(join(source, file)).then(
      () => true,
      () => false,
    );
    if (exists) await cp(join(source, file), join(dir, file));
  }
  await git(dir, 'init', '--quiet', '--initial-branch=main');
}

/**
 * Commits the fixture's files over the snapshot (even where .gitignore would leave them out) as
 * `main`, and returns the commit: one with no parent and a fixed date, so the same files are the
 * same commit, as the same code is one sha on GitHub.
 */
export async function commit(dir: string, files: Record<string, string>): Promise<string> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), content);
  }
  await git(dir, 'add', '--all');
  if (Object.keys(files).length) await git(dir, 'add', '--force', ...Object.keys(files));
  const tree = await git(dir, 'write-tree');
  const date = '2026-01-01T00:00:00Z';
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  const args = ['-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit-tree', tree, '-m', 'the code the run is on'];
  const sha = (await exec('git', args, { cwd: dir, env })).stdout.trim();
  await git(dir, 'update-ref', 'refs/heads/main', sha);
  return sha;
}
