import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { undocumentedKeys } from './helpers/config-reference.js';
import { brokenLinks } from './helpers/markdown-links.js';

const reference = readFileSync('docs/config.md', 'utf8');

describe('the config reference, docs/config.md', () => {
  it('documents every key of the config schema', () => {
    expect(undocumentedKeys(configSchema, reference)).toEqual([]);
  });

  it('names the keys a reference without their row leaves out, shorthands (`.cpus`) included', () => {
    const without = (prefix: string) =>
      reference
        .split('\n')
        .filter((line) => !line.startsWith(prefix))
        .join('\n');
    expect(undocumentedKeys(configSchema, without('| `deploy.replicas`'))).toEqual(['deploy.replicas']);
    expect(undocumentedKeys(configSchema, without('| `deploy.swarm.max_replicas`'))).toEqual([
      'deploy.swarm.max_replicas',
      'deploy.swarm.cpus',
      'deploy.swarm.memory_mb',
    ]);
    expect(undocumentedKeys(configSchema, without('| `gates.baseline`'))).toEqual([
      'gates.baseline.against',
      'gates.baseline.metric',
      'gates.baseline.margin',
    ]);
  });
});

describe('the documentation', () => {
  const pages = [
    'README.md',
    ...readdirSync('docs').map((page) => `docs/${page}`),
    'actions/README.md',
    'serving/README.md',
    'data/README.md',
  ];

  it('links only to files and headings that exist', () => {
    expect(brokenLinks(pages)).toEqual([]);
  });
});
