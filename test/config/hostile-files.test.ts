import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlops } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlops-hostile-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `mlops status` on a config file of these contents: it must fail with one short config error. */
async function statusOn(name: string, contents: string | Buffer) {
  const file = join(dir, name);
  await writeFile(file, contents);
  const { code, stderr } = mlops('status', '--config', file);
  expect(code).toBe(2);
  expect(stderr).toMatch(/^error\[config\]: [^\n]*\n$/);
  expect(stderr.length).toBeLessThan(file.length + 200);
  return { file, stderr };
}

describe('a hostile config file is one short config error, exit 2', () => {
  it('refuses a file over 1 MiB before reading it', async () => {
    const { file, stderr } = await statusOn('huge.yaml', `version: 1\nproject: "${'a'.repeat(2 ** 21)}"\n`);
    expect(stderr).toBe(
      `error[config]: ${file} is 2.0 MiB, over the 1 MiB a config file may hold (check that --config names your mlops.config.yaml)\n`,
    );
  });

  it('refuses an alias bomb ("billion laughs") before it expands', async () => {
    const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (const [prev, name] of ['ab', 'bc', 'cd', 'de', 'ef', 'fg', 'gh', 'hi'])
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    const { file, stderr } = await statusOn('bomb.yaml', lines.join('\n'));
    expect(stderr).toBe(
      `error[config]: ${file} is not valid YAML: Excessive alias count indicates a resource exhaustion attack (use fewer aliases (*name) of large anchors)\n`,
    );
  });

  it('refuses a tag it does not know, such as !!js/function, rather than reading a string', async () => {
    const { file, stderr } = await statusOn('tag.yaml', 'version: 1\nproject: !!js/function "function () { return 1 }"\n');
    expect(stderr).toBe(
      `error[config]: ${file} is not valid YAML at line 2, column 10: Unresolved tag: tag:yaml.org,2002:js/function (remove the tag: a config holds plain strings, numbers, lists and maps)\n`,
    );
  });

  it('refuses a binary file, naming the first unprintable character and not echoing it', async () => {
    const binary = Buffer.alloc(22_000, 'ELF\x00\x01\x1b[2J:\n');
    const { file, stderr } = await statusOn('binary.yaml', binary);
    expect(stderr).toBe(
      `error[config]: ${file} is not a YAML file: it holds the unprintable character U+0000 at line 1, column 4 (check that --config names your mlops.config.yaml)\n`,
    );
    const notUtf8 = await statusOn('latin1.yaml', Buffer.from('project: caf\xe9\n', 'latin1'));
    expect(notUtf8.stderr).toContain('is not a YAML file: it is not UTF-8 text');
  });

  it('quotes a long value in the wrong place short', async () => {
    const { stderr } = await statusOn('long-value.yaml', `version: "${'9'.repeat(100_000)}"\n`);
    expect(stderr).toContain(`, got "${'9'.repeat(79)}…;`);
  });
});
