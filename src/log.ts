import { redact } from './secrets.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

export interface LoggerOptions {
  /** `json` writes one JSON object a line (for log shippers); `text`, the default, is for people. */
  format?: 'text' | 'json';
  debug?: boolean;
  write?: (line: string) => void;
}

/** The format an environment asks for with MLOPS_LOG_FORMAT. */
export const logFormat = (env: NodeJS.ProcessEnv): 'text' | 'json' => (env.MLOPS_LOG_FORMAT === 'json' ? 'json' : 'text');

/** Logs go to stderr so that stdout stays clean for a command's result. Secrets are scrubbed. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: Level, message: string, fields: Fields = {}) => {
    if (level === 'debug' && !options.debug) return;
    if (format === 'json') {
      write(redact(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })));
      return;
    }
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const prefix = level === 'info' ? '' : `${level}: `;
    write(redact(`${prefix}${message}${extra ? ` ${extra}` : ''}`));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** For tests and library use: keeps the lines instead of printing them. */
export function memoryLogger(): Logger & { lines: { level: Level; message: string; fields?: Fields }[] } {
  const lines: { level: Level; message: string; fields?: Fields }[] = [];
  const push = (level: Level) => (message: string, fields?: Fields) => lines.push({ level, message, fields });
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
