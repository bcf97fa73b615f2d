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
  /** On a GitHub runner, text warnings are workflow commands, so that they show as annotations on the run. */
  annotate?: boolean;
}

/** The format an environment asks for with MLOPS_LOG_FORMAT. */
export const logFormat = (env: NodeJS.ProcessEnv): 'text' | 'json' => (env.MLOPS_LOG_FORMAT === 'json' ? 'json' : 'text');
/** True on a GitHub Actions runner, which turns `::warning::` lines into annotations. */
export const onRunner = (env: NodeJS.ProcessEnv) => env.GITHUB_ACTIONS === 'true';

/** A workflow command's data, escaped as the runner expects (a newline would end the command). */
const commandData = (text: string) => text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

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
    const text = redact(`${message}${extra ? ` ${extra}` : ''}`);
    if (level === 'warn' && options.annotate) write(`::warning::${commandData(text)}`);
    else write(`${level === 'info' ? '' : `${level}: `}${text}`);
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
