import { describe, expect, it } from 'vitest';
import { registryAuth } from '../../src/image/push.js';
import { redact } from '../../src/secrets.js';

describe('registry credentials come from the environment', () => {
  it('takes a username with a password, or with a token', () => {
    expect(registryAuth('127.0.0.1:5000', { MLOPS_REGISTRY_USERNAME: 'ci', MLOPS_REGISTRY_PASSWORD: 'pw-1234' })).toEqual({
      username: 'ci',
      password: 'pw-1234',
      serveraddress: '127.0.0.1:5000',
    });
    expect(registryAuth('registry.example.com/team', { MLOPS_REGISTRY_USERNAME: 'ci', MLOPS_REGISTRY_TOKEN: 'tok-5678' })).toEqual({
      username: 'ci',
      password: 'tok-5678',
      serveraddress: 'registry.example.com',
    });
  });

  it('uses the workflow token for ghcr.io, as GitHub Actions provides it', () => {
    expect(registryAuth('ghcr.io/acme', { GITHUB_ACTOR: 'octocat', GITHUB_TOKEN: 'ghs_secret' })).toEqual({
      username: 'octocat',
      password: 'ghs_secret',
      serveraddress: 'ghcr.io',
    });
    // ...but never sends it to another registry.
    expect(registryAuth('127.0.0.1:5000', { GITHUB_ACTOR: 'octocat', GITHUB_TOKEN: 'ghs_secret' })).toBeUndefined();
  });

  it('keeps every credential out of logs and errors', () => {
    registryAuth('127.0.0.1:5000', { MLOPS_REGISTRY_USERNAME: 'ci', MLOPS_REGISTRY_PASSWORD: 'hunter2-registry' });
    expect(redact('login failed with hunter2-registry')).toBe('login failed with ***');
  });
});
