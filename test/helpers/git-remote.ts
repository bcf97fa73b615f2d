import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** git with a committer identity, whatever the machine's config: for the tests' own commits. */
export const git = async (cwd: string, ...args: string[]) =>
  (await exec('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd })).stdout.trim();

/** A bare repository `<root>/remote.git` with a main branch, as a fork has; the registry branch does not exist yet. */
export async function forkRemote(root: string): Promise<string> {
  const remote = join(root, 'remote.git');
  await git(root, 'init', '--quiet', '--bare', remote);
  await git(root, 'clone', '--quiet', remote, 'seed');
  await writeFile(join(root, 'seed/README.md'), '# project\n');
  await git(join(root, 'seed'), 'add', '.');
  await git(join(root, 'seed'), 'commit', '--quiet', '-m', 'init');
  await git(join(root, 'seed'), 'push', '--quiet', 'origin', 'HEAD');
  return remote;
}
