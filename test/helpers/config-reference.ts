import { z } from 'zod';

/** The parts of a JSON Schema that say which keys an object has. */
interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/**
 * Every key a config file may set, as a dotted path down to the values: `deploy.proxy.port`. A record's
 * own keys are the user's (column names, metrics, steps), so they are one placeholder, `<*>`.
 * The schema is read through its JSON Schema, zod's public view of its shape.
 */
export const schemaKeys = (schema: z.ZodType): string[] => {
  const walk = (node: JsonSchema, path: string[]): string[] => {
    const options = node.anyOf ?? node.oneOf;
    if (options) return [...new Set(options.flatMap((option) => walk(option, path)))];
    if (node.properties) return Object.entries(node.properties).flatMap(([key, child]) => walk(child, [...path, key]));
    if (typeof node.additionalProperties === 'object') return walk(node.additionalProperties, [...path, '<*>']);
    return [path.join('.')];
  };
  return walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, []);
};

interface ReferenceRow {
  /** The keys the row's first cell names, shorthands expanded: `a.b`, `.c` is `a.b` and `a.c`. */
  keys: string[];
  /** The words inside the code spans of the row's meaning: the fields of an object the row describes whole. */
  fields: Set<string>;
}

const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
/** `<name>`, `<metric>`, `<step>`: whatever the placeholder is called, it stands for a record's keys. */
const placeholders = (key: string): string => key.replace(/<[^>]+>/g, '<*>');
const parent = (key: string): string => key.slice(0, key.lastIndexOf('.'));

/** The rows of the markdown table whose header starts with `| key |`. */
export const referenceRows = (markdown: string): ReferenceRow[] => {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) => /^\|\s*key\s*\|/.test(line));
  if (header < 0) throw new Error('no table with a "key" column');
  const rows: ReferenceRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [keyCell = '', , meaning = ''] = line.slice(1).split(/(?<!\\)\|/);
    const keys: string[] = [];
    for (const span of codeSpans(keyCell)) keys.push(placeholders(span.startsWith('.') ? parent(keys.at(-1) ?? '') + span : span));
    rows.push({ keys, fields: new Set(codeSpans(meaning).flatMap((span) => span.match(/\w+/g) ?? [])) });
  }
  return rows;
};

/**
 * The schema's keys the reference does not document. A key is documented by a row of its own, or by
 * the row of an object that holds it (or of a key beside it) whose meaning names it in code: the
 * row `gates.baseline` with `{ against, metric, margin }` documents `gates.baseline.margin`.
 */
export const undocumentedKeys = (schema: z.ZodType, markdown: string): string[] => {
  const rows = referenceRows(markdown);
  const named = new Set(rows.flatMap((row) => row.keys));
  const describedWhole = (key: string): boolean => {
    const name = key.slice(key.lastIndexOf('.') + 1);
    return rows.some(
      (row) => row.fields.has(name) && row.keys.some((k) => key.startsWith(`${k}.`) || (parent(k) === parent(key) && k !== key)),
    );
  };
  return schemaKeys(schema).filter((key) => !named.has(key) && !describedWhole(key));
};
