import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlopsFromSources } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-hostile-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `mlops status` on a config file of these contents: its exit code and its one line on stderr. */
async function statusOn(name: string, contents: string | Buffer) {
  const file = join(dir, name);
  await writeFile(file, contents);
  const { code, stderr } = mlopsFromSources('status', '--config', file);
  return { file, code, stderr };
}

describe('a hostile config file is one short config error, exit 2', () => {
  it('refuses a file over 1 MiB before reading it', async () => {
    const { file, code, stderr } = await statusOn('huge.yaml', `version: 1\nproject: "${'a'.repeat(2 ** 21)}"\n`);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `error[config]: ${file} is 2.0 MiB, over the 1 MiB a config file may hold (check that --config names your mlops.config.yaml)\n`,
    );
  });
});
