import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { selectBackend, tf } from '../../src/model/backend.js';
import { isolatedConfig } from '../helpers/model.js';

const root = await mkdtemp(join(tmpdir(), 'mlops-banner-'));
afterAll(() => rm(root, { recursive: true, force: true }));

/** `mlops run` on the sample data, as a user runs it: its own process, output captured. */
async function mlopsRun(backend: string) {
  const config = await isolatedConfig(join(root, backend));
  config.data.source.query = config.data.source.query.replace("'data/penguins_raw.csv'", `'${resolve('data/penguins_raw.csv')}'`);
  const file = join(root, `${backend}.config.yaml`);
  await writeFile(file, stringify(config));
  return spawnSync(process.execPath, ['bin/mlops.js', '--config', file, 'run'], {
    encoding: 'utf8',
    env: { ...process.env, MLOPS_TF_BACKEND: backend, MLOPS_LOG_FORMAT: 'text' },
  });
}

// TensorFlow.js prints "Hi, looks like you are running TensorFlow.js in Node.js. To speed things up
// dramatically, install our node backend..." the first time its plain JavaScript (cpu) backend
// holds a tensor. The pipeline already picks the fastest backend that loads and says which one.
describe("TensorFlow.js's install-the-node-backend banner", () => {
  it.each(['cpu', 'wasm'])('does not reach the output of mlops run on the %s backend', async (backend) => {
    const run = await mlopsRun(backend);
    expect(run.status, run.stderr).toBe(0);
    const output = run.stdout + run.stderr;
    expect(output).toContain(`TensorFlow.js backend ${backend}`);
    expect(output).not.toMatch(/looks like you are running TensorFlow\.js|install our node backend|={20,}/);
  });

  it("keeps TensorFlow.js's other warnings", async () => {
    expect(await selectBackend('cpu')).toBe('cpu');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      tf.tidy(() => tf.tensor([1, 2, 3]).square().dataSync());
      tf.backend_util.warn('another TensorFlow.js warning');
      expect(warn.mock.calls.map((c) => c.join(' '))).toEqual(['another TensorFlow.js warning']);
    } finally {
      warn.mockRestore();
    }
  });
});
