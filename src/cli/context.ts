import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { createContext, type StepContext } from '../context.js';
import { createLogger, onRunner, type Logger } from '../log.js';

/** Options every command accepts. */
export interface GlobalOptions {
  config: string;
  debug?: boolean;
  logFormat?: 'text' | 'json';
}

/** The CLI's environment, read here only: commands hand it to the core, in the step context or as is. */
export const cliEnv = (): NodeJS.ProcessEnv => process.env;

/** The logger the global options ask for. */
export const loggerFrom = (options: GlobalOptions): Logger =>
  createLogger({ debug: options.debug, format: options.logFormat, annotate: onRunner(cliEnv()) });

/**
 * Builds a step context from the global options; commands stay one-liners over src/. A command's
 * flags that stand for config keys come as `overrides`, validated with the file (load.ts).
 */
export async function contextFrom(options: GlobalOptions, runId?: string, overrides?: ConfigOverrides): Promise<StepContext> {
  return createContext(await loadConfig(options.config, cliEnv(), overrides), { runId, log: loggerFrom(options) });
}
