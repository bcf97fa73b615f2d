import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { dispatchWorkflow } from '../../src/retirement/retrain.js';
import { memoryLogger } from '../../src/log.js';

/** GitHub's workflow dispatch endpoint on a local port, recording each call; `status` answers them. */
const calls: { method?: string; url?: string; body: string; auth?: string }[] = [];
let status = 204;
const api = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    calls.push({ method: req.method, url: req.url, body, auth: req.headers.authorization });
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(status === 204 ? '' : '{"message":"Resource not accessible by integration"}');
  });
});

/** A workflow's environment, as the action hands it in; the API's address once it listens. */
const env: NodeJS.ProcessEnv = {
  ...process.env,
  GITHUB_TOKEN: 'ghs_dispatchtoken',
  GITHUB_REPOSITORY: 'acme/penguins',
  GITHUB_REF_NAME: 'main',
};
const ctx = createContext(
  {
    config: { workdir: '.mlops', registry: { backend: 'folder', path: '.mlops/registry' } } as never,
    file: 'mlops.config.yaml',
    dir: '.',
    env,
  },
  { runId: 'reevaluate-1', log: memoryLogger() },
);

describe('retraining after a retirement, in GitHub Actions: a workflow_dispatch of the train workflow', () => {
  beforeAll(async () => {
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    env.GITHUB_API_URL = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  afterAll(() => api.close());

  it('dispatches train.yml on the branch the workflow runs on, with the workflow token', async () => {
    expect(await dispatchWorkflow(ctx, 'train.yml')).toBe('train.yml dispatched on main');
    expect(calls.at(-1)).toEqual({
      method: 'POST',
      url: '/repos/acme/penguins/actions/workflows/train.yml/dispatches',
      body: '{"ref":"main"}',
      auth: 'token ghs_dispatchtoken',
    });
  });

  it('says why it could not, without failing the retirement it follows', async () => {
    status = 403;
    const outcome = await dispatchWorkflow(ctx, 'train.yml');
    expect(outcome).toMatch(/^train\.yml not dispatched: HTTP 403 Resource not accessible by integration/);
    expect(outcome).not.toContain('ghs_dispatchtoken');
  });
});
