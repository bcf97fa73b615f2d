import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { configError } from '../errors.js';
import { describeIssue, knownKeys } from '../schema-issue.js';
import { registerSecret } from '../secrets.js';
import { configSchema, type Config } from './schema.js';
import { readYamlFile } from './yaml-file.js';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file; relative paths in the config are relative to its folder. */
  file: string;
  dir: string;
  /** The environment the adapter read: the config's overrides came from it, and the steps' context carries it on. */
  env: NodeJS.ProcessEnv;
}

/**
 * Settings the environment overrides: secrets, so they stay out of the file, and what differs between
 * a laptop and a workflow, so one file serves both (a workflow keeps the registry on a git branch).
 */
const envOverrides = [
  { path: ['data', 'source', 'url'], env: 'MLOPS_PG_URL', when: (raw: Raw) => raw.data?.source?.kind === 'postgres', secret: true },
  { path: ['predict', 'source', 'url'], env: 'MLOPS_PG_URL', when: (raw: Raw) => raw.predict?.source?.kind === 'postgres', secret: true },
  { path: ['predict', 'sink', 'url'], env: 'MLOPS_PG_URL', when: (raw: Raw) => raw.predict?.sink?.kind === 'postgres', secret: true },
  { path: ['notify', 'webhook', 'url'], env: 'MLOPS_WEBHOOK_URL', when: () => true, secret: true },
  { path: ['registry', 'backend'], env: 'MLOPS_REGISTRY_BACKEND', when: () => true },
  { path: ['deploy', 'target'], env: 'MLOPS_DEPLOY_TARGET', when: () => true },
  { path: ['image', 'registry'], env: 'MLOPS_IMAGE_REGISTRY', when: () => true },
  { path: ['image', 'base'], env: 'MLOPS_IMAGE_BASE', when: () => true },
];

/**
 * Settings a command's flags give (`mlops deploy --replicas 3` is `{ deploy: { replicas: 3 } }`),
 * laid over the file's before it is validated: a flag meets the rules the key meets in the file,
 * with the same error. An undefined value leaves the file's setting.
 */
export type ConfigOverrides = { [key: string]: ConfigOverrides | string | number | boolean | undefined };

type Raw = {
  data?: { source?: { kind?: unknown } };
  predict?: { source?: { kind?: unknown }; sink?: { kind?: unknown } };
} & Record<string, unknown>;

export async function loadConfig(file: string, env: NodeJS.ProcessEnv, overrides?: ConfigOverrides): Promise<LoadedConfig> {
  const path = resolve(file);
  const config = parseConfig(await readYamlFile(path), env, overrides);
  return { config, file: path, dir: dirname(path), env };
}

/** Validates a parsed config object, applying the overrides from the environment, then those of the command's flags. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Config {
  const input = structuredClone(raw) as Raw;
  for (const { path, env: name, when } of envOverrides) {
    const value = env[name];
    if (value && typeof input === 'object' && when(input)) setPath(input, path, value);
  }
  if (typeof input === 'object' && input !== null) layOver(input, overrides);
  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const messages = result.error.issues.map((issue) => describeIssue(issue, input, knownKeys(configSchema)));
    throw configError(messages.join('; '));
  }
  const config = result.data;
  const postgres = [
    ['data.source.url', config.data.source],
    ['predict.source.url', config.predict?.source],
    ['predict.sink.url', config.predict?.sink],
  ] as const;
  for (const [key, part] of postgres) {
    if (part?.kind !== 'postgres') continue;
    if (!part.url) throw configError(`${key}: missing for postgres`, 'set the MLOPS_PG_URL environment variable to the connection string');
    registerSecret(part.url);
  }
  if (config.notify.webhook.url) registerSecret(config.notify.webhook.url);
  return config;
}

/** A stable hash of the settings that shape a run (secrets excluded), for lineage. */
export function configHash(config: Config): string {
  const copy = structuredClone(config) as Raw;
  delete copy.predict; // batch scoring shapes no model
  for (const { path } of envOverrides.filter((o) => o.secret)) setPath(copy, path, undefined);
  return createHash('sha256').update(stableJson(copy)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function layOver(input: Record<string, unknown>, overrides: ConfigOverrides, path: string[] = []): void {
  for (const [key, value] of Object.entries(overrides)) {
    if (typeof value === 'object') layOver(input, value, [...path, key]);
    else if (value !== undefined) setPath(input, [...path, key], value);
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}
