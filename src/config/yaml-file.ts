import { open } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { configError } from '../errors.js';
import { excerpt } from '../format.js';

/** A config is a few kB: the bound keeps a wrong or hostile file from filling memory and every log line. */
const maxBytes = 1024 * 1024;

/** What YAML admits (YAML 1.2, 5.1 c-printable): anything else means a binary file, or the wrong one. */
const unprintable = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

const wrongFile = 'check that --config names your mlops.config.yaml';

/**
 * The plain value of a YAML config file, or one short config error that names a position and
 * quotes at most a short excerpt: the file may come from a fork or a dispatch input, and a hostile
 * one must neither hang the run nor flood the log.
 */
export async function readYamlFile(path: string): Promise<unknown> {
  const bytes = await readBounded(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw configError(`${path} is not a YAML file: it is not UTF-8 text`, wrongFile);
  }
  // Without prettyErrors the parser leaves linePos unset; a LineCounter turns an offset into a line.
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `at line ${line}, column ${col}`;
  };
  const bad = text.search(unprintable);
  if (bad >= 0) {
    const code = `U+${text.codePointAt(bad)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw configError(`${path} is not a YAML file: it holds the unprintable character ${code} ${at(bad)}`, wrongFile);
  }
  // Warnings too: an unknown tag such as !!js/function is one, and would be read as a plain string.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const hint =
      problem.code === 'TAG_RESOLVE_FAILED' ? 'remove the tag: a config holds plain strings, numbers, lists and maps' : undefined;
    throw configError(`${path} is not valid YAML ${at(problem.pos[0])}: ${excerpt(problem.message.split('\n')[0]!)}`, hint);
  }
  try {
    // toJS refuses aliases whose expansion passes its maxAliasCount (100): a "billion laughs" file.
    return doc.toJS() ?? {};
  } catch (err) {
    throw configError(`${path} is not valid YAML: ${excerpt((err as Error).message)}`, 'use fewer aliases (*name) of large anchors');
  }
}

async function readBounded(path: string): Promise<Buffer> {
  const file = await open(path).catch(() => {
    throw configError(`config file not found: ${path}`, 'run from the repository root, or pass --config <file>');
  });
  try {
    const { size } = await file.stat();
    if (size > maxBytes) {
      throw configError(`${path} is ${(size / 1024 / 1024).toFixed(1)} MiB, over the 1 MiB a config file may hold`, wrongFile);
    }
    return await file.readFile();
  } finally {
    await file.close();
  }
}
