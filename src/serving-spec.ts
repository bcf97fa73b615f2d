import { z } from 'zod';
import { proxyKeys, servingKeys, type Config } from './config/schema.js';
import { configError } from './errors.js';
import { describeIssue, knownKeys } from './schema-issue.js';

/**
 * What the deploy side hands a serving process: written once (by the fleet that starts it), and
 * parsed with the same schema by the process, whatever carries it (a file for a local process, one
 * environment variable for a container, the image's /app/serving.json by default). Nothing secret:
 * the admin token travels on its own, in MLOPS_ADMIN_TOKEN.
 */

/** A prediction server's spec. */
export const serverSpec = z.strictObject({
  /** The config's serving section; its prediction log path is absolute, or relative to the server's working folder. */
  serving: servingKeys,
  /** Where it listens (a swarm task adds its slot less one: MLOPS_TASK_SLOT). */
  port: z.number().int().min(0).max(65535),
  /** 127.0.0.1, unless the proxy is on another host (a swarm task's). */
  host: z.string().min(1).default('127.0.0.1'),
  /** The model version's folder, served as is. */
  model_dir: z.string().min(1),
});
export type ServerSpec = z.output<typeof serverSpec>;

/** How a proxy finds servers besides their registration (PUT /backends/:id): serving/discoveries.ts has one of each. */
export const discoveryNames = ['docker', 'swarm'] as const;
export type DiscoveryName = (typeof discoveryNames)[number];

/** A proxy's spec. */
export const proxySpec = proxyKeys.extend({
  /** Larger request bodies are refused with 413 (serving.max_body_bytes, the servers' own limit). */
  max_body_bytes: servingKeys.shape.max_body_bytes,
  /** The servers it follows on an engine: those of `project`, found by `name`'s discovery. */
  discovery: z.strictObject({ name: z.enum(discoveryNames), project: z.string().min(1) }).optional(),
  /** The run ledger /dashboard lists; none in a container, where the page says so. */
  runs_dir: z.string().min(1).optional(),
});
export type ProxySpec = z.output<typeof proxySpec>;

/** The environment variable that carries a spec into a container. */
export const SERVER_SPEC_VARIABLE = 'MLOPS_SERVER_SPEC';
export const PROXY_SPEC_VARIABLE = 'MLOPS_PROXY_SPEC';

/**
 * Parses a spec's JSON, read from `where`. A bad one is a config error naming the key, at start-up:
 * a serving process handed a wrong spec stops there, before it listens.
 */
export function parseSpec<S extends z.ZodType>(schema: S, text: string, where: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw configError(`${where} is not valid JSON: ${(err as Error).message}`, 'deploy again: the deploy side writes it');
  }
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success)
    throw configError(
      `${where} is not a valid spec: ${describeIssue(parsed.error.issues[0]!, value, knownKeys(schema))}`,
      'deploy again: the deploy side writes it',
    );
  return parsed.data;
}

/** A server's spec under `config`: its serving section, with this server's own prediction log. */
export const serverSpecFor = (
  config: Config,
  server: { port: number; host?: string; model_dir: string; prediction_log: string },
): ServerSpec => ({
  serving: { ...config.serving, log: { ...config.serving.log, path: server.prediction_log } },
  port: server.port,
  host: server.host ?? '127.0.0.1',
  model_dir: server.model_dir,
});

/** The proxy's spec under `config` (deploy.proxy, and the servers' body limit). */
export const proxySpecFor = (config: Config, more: Pick<ProxySpec, 'discovery' | 'runs_dir'> = {}): ProxySpec => ({
  ...config.deploy.proxy,
  max_body_bytes: config.serving.max_body_bytes,
  ...more,
});
