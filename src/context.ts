import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { LoadedConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { configError } from './errors.js';
import { createLogger, logFormat, onRunner, type Logger } from './log.js';
import { createProgress, type Progress } from './progress.js';
import { openRegistry, type Registry } from './registry/registry.js';

/** What every pipeline step receives, whoever calls it: the CLI, an action or a test. */
export interface StepContext {
  runId: string;
  /** `<workdir>/runs/<runId>`: each step writes its artifacts in a folder of its own below it. */
  runDir: string;
  config: Config;
  /** Relative paths in the config (data files, workdir) resolve against this folder. */
  configDir: string;
  /** The config file, for the processes a step starts (the proxy, local prediction servers). */
  configFile: string;
  log: Logger;
  progress: Progress;
  /** The environment the adapter (CLI, action) read once; the core reads no other, and children inherit it. */
  env: NodeJS.ProcessEnv;
  /**
   * The model registry, opened once per command: every step and stage of it reads and writes
   * through this one (a git-branch store sets up its working copy once, not at every call site).
   */
  registry: Registry;
}

/** Sortable by time, unique enough for concurrent runs: `20261121-163000-a1b2c3`. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** A run's context over a loaded config, in the environment the config was loaded with. */
export function createContext(
  loaded: LoadedConfig,
  options: { runId?: string; log?: Logger; progress?: Progress; registry?: Registry } = {},
): StepContext {
  const { env } = loaded;
  const runId = options.runId ?? newRunId();
  if (!/^[\w.-]+$/.test(runId)) throw configError(`run id: expected letters, digits, '.', '-' or '_', got "${runId}"`);
  const log = options.log ?? createLogger({ format: logFormat(env), annotate: onRunner(env) });
  return {
    runId,
    runDir: join(resolve(loaded.dir, loaded.config.workdir), 'runs', runId),
    config: loaded.config,
    configDir: loaded.dir,
    configFile: loaded.file,
    log,
    progress: options.progress ?? createProgress({ ci: Boolean(env.CI) }),
    env,
    registry: options.registry ?? openRegistry({ config: loaded.config, configDir: loaded.dir, env, log }),
  };
}

export const stepDir = (ctx: StepContext, step: string) => join(ctx.runDir, step);
