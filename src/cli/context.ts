import { loadConfig } from '../config/load.js';
import { createContext, type StepContext } from '../context.js';
import { createLogger } from '../log.js';

/** Options every command accepts. */
export interface GlobalOptions {
  config: string;
  debug?: boolean;
  logFormat?: 'text' | 'json';
}

/** Builds a step context from the global options; commands stay one-liners over src/. */
export async function contextFrom(options: GlobalOptions, runId?: string): Promise<StepContext> {
  const log = createLogger({ debug: options.debug, format: options.logFormat });
  return createContext(await loadConfig(options.config), { runId, log });
}
