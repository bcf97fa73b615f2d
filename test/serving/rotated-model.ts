import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema.js';
import { openRegistry } from '../../src/registry/registry.js';

/**
 * Registers the champion with its class names rotated by one: the same network, so just as fast
 * and healthy, but every label it predicts is another class's. The model a shadow must catch.
 */
export async function registerRotatedVersion(config: Config): Promise<string> {
  const registry = openRegistry({ config, configDir: process.cwd(), env: process.env });
  const { dir } = await registry.open('champion');
  const staging = await mkdtemp(join(tmpdir(), 'mlops-rotated-'));
  const preprocess = JSON.parse(await readFile(join(dir, 'preprocess.json'), 'utf8')) as { label: { classes: string[] } };
  const { classes } = preprocess.label;
  preprocess.label.classes = [...classes.slice(1), classes[0]!];
  await writeFile(join(staging, 'preprocess.json'), JSON.stringify(preprocess));
  const files = ['model.json', 'weights.bin', 'metadata.json'].map((f) => join(dir, f));
  const { version } = await registry.register([...files, join(staging, 'preprocess.json')], { runId: 'rotated', summary: {} });
  await rm(staging, { recursive: true, force: true });
  return version;
}
