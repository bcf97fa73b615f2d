import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { logFiles } from '../prediction-log-files.js';
import type { StepContext } from '../context.js';
import { predictionLogs } from '../deploy/prediction-logs.js';
import { hasFleet } from '../deploy/targets.js';
import { configError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { TimeWindow } from './window.js';

/** Lines of prediction log from one place: a file, or a deployed server's log. */
export interface LogSource {
  /** Where a line is, for warnings: `file:line`, or the server and the line. */
  where(line: number): string;
  name: string;
  lines(): AsyncIterable<string>;
}

const fileSource = (file: string): LogSource => ({
  name: file,
  where: (line) => `${file}:${line}`,
  lines: () => createInterface({ input: createReadStream(file), crlfDelay: Infinity }),
});

const wildcard = (name: string) =>
  new RegExp(
    `^${name
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

/** The files one `--log` names: a file and its rotated predecessors, a folder's *.jsonl, or a wildcard in the file name. */
async function filesOf(pattern: string, cwd: string, maxFiles: number): Promise<string[]> {
  const path = resolve(cwd, pattern);
  if (/[*?]/.test(dirname(path))) throw configError(`--log ${pattern}: only the file name may have wildcards`, 'e.g. --log "logs/*.jsonl"');
  if (/[*?]/.test(basename(path))) {
    const match = wildcard(basename(path));
    const names = await readdir(dirname(path)).catch(() => [] as string[]);
    return names.filter((n) => match.test(n)).map((n) => join(dirname(path), n));
  }
  const found = await stat(path).catch(() => undefined);
  if (!found) {
    throw configError(
      `--log ${pattern}: no such file or folder`,
      'name a prediction log (serving.log.path), a folder of them, or a wildcard',
    );
  }
  if (found.isDirectory()) return (await readdir(path)).filter((n) => n.endsWith('.jsonl')).map((n) => join(path, n));
  return logFiles(path, maxFiles);
}

/**
 * The prediction logs to read. `--log` patterns name files; without them, the logs of every server
 * deploy.target has run, removed ones too (read through the engine for containers), or with
 * deploy.target none, the log `mlops serve` writes (serving.log.path). Files last written before
 * the window are skipped unread.
 */
export async function logSources(ctx: StepContext, window: TimeWindow, patterns: string[] = []): Promise<LogSource[]> {
  const { serving } = ctx.config;
  if (!patterns.length && hasFleet(ctx)) {
    return (await predictionLogs(ctx, window.start)).map((s) => ({
      name: `server ${s.server}`,
      where: (line) => `server ${s.server}, line ${line}`,
      lines: () => s.lines(),
    }));
  }
  const files = new Set<string>();
  if (patterns.length) {
    for (const pattern of patterns) {
      const matched = await filesOf(pattern, process.cwd(), serving.log.max_files);
      if (!matched.length) throw configError(`--log ${pattern}: matches no file`, 'check the path and the wildcard');
      for (const f of matched) files.add(f);
    }
  } else {
    for (const f of logFiles(resolve(ctx.configDir, serving.log.path), serving.log.max_files)) files.add(f);
  }
  const sources: LogSource[] = [];
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) continue; // a rotated file that does not exist (yet)
    if (info.mtime.toISOString() < window.start) ctx.log.debug(`monitor: ${file} was last written before the window; skipped`);
    else sources.push(fileSource(file));
  }
  return sources;
}

/** The scored batches' lines of prediction log that the registry keeps (`mlops predict`), a source per day. */
export async function batchSources(registry: Registry): Promise<LogSource[]> {
  return (await registry.batchLogs()).map(({ file, lines }) => ({
    name: `batch ${basename(file, '.jsonl')}`,
    where: (line) => `${file}:${line}`,
    lines: async function* () {
      yield* lines;
    },
  }));
}
