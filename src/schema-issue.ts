import type { z } from 'zod';
import { nearest } from './config/suggest.js';
import { excerpt } from './format.js';

/** A value as JSON (control characters escaped), cut short: it may come from a hostile file. */
const show = (value: unknown) => excerpt(JSON.stringify(value) ?? String(value));

/**
 * One zod issue as a user reads it: `data.contract.columns.age.range: expected [min, max], got "abc"`.
 * `knownKeys` lists the keys accepted at a path, to suggest the nearest one for an unknown key.
 */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown, knownKeys: (path: PropertyKey[]) => string[] = () => []): string {
  const at = (path: PropertyKey[]) => path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(issue.path);
    return issue.keys
      .map((key) => {
        const guess = nearest(key, known);
        const hint = guess ? `did you mean "${guess}"?` : known.length ? `expected one of ${known.join(', ')}` : 'not expected here';
        return `${at([...issue.path, key])}: unknown key; ${hint}`;
      })
      .join('; ');
  }
  if (issue.code === 'invalid_union' && issue.errors.length) {
    // Describe the alternative the value came closest to: the fewest issues, and a wrong value before a missing one.
    const here = valueAt(input, issue.path);
    const score = (branch: z.core.$ZodIssue[]) => branch.length * 2 + (valueAt(here, branch[0]?.path ?? []) === undefined ? 1 : 0);
    const closest = [...issue.errors].sort((a, b) => score(a) - score(b))[0]!;
    if (closest.length) return describeIssue({ ...closest[0]!, path: [...issue.path, ...closest[0]!.path] }, input, knownKeys);
  }
  let value = issue.input === undefined ? valueAt(input, issue.path) : issue.input;
  // A refinement or a union reports the whole object it checked as its input: show the value at the
  // issue's path instead, and no whole section (it would bury the message, and could echo a secret).
  const whole = issue.code === 'custom' || issue.code === 'invalid_union';
  if (whole) value = valueAt(input, issue.path);
  let expected = issue.message;
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) expected = `expected ${issue.expected}`;
  if (issue.code === 'invalid_value' && issue.message.startsWith('Invalid'))
    expected = `expected one of ${issue.values.map(String).join(', ')}`;
  if (issue.code === 'invalid_union' && issue.message.startsWith('Invalid')) expected = 'expected a different shape';
  expected = expected.replace(/^Too (small|big): /, '').replace(/^[A-Z]/, (c) => c.toLowerCase());
  if (whole && (value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value))))
    return `${at(issue.path)}: ${expected}`;
  return value === undefined ? `${at(issue.path)}: missing (${expected})` : `${at(issue.path)}: ${expected}, got ${show(value)}`;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let node = input;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  return node;
}

/** The keys the schema accepts at a path, found by walking the schema itself. */
export const knownKeys =
  (schema: z.ZodType) =>
  (path: PropertyKey[]): string[] => {
    type Def = {
      type: string;
      shape?: Record<string, Node>;
      innerType?: Node;
      valueType?: Node;
      element?: Node;
      options?: Node[];
      in?: Node;
    };
    type Node = { _zod: { def: Def } };
    const unwrap = (node: Node): Node[] => {
      const def = node._zod.def;
      if (def.innerType) return unwrap(def.innerType);
      if (def.in) return unwrap(def.in);
      if (def.options) return def.options.flatMap(unwrap);
      return [node];
    };
    let nodes = unwrap(schema as unknown as Node);
    for (const key of path) {
      nodes = nodes.flatMap((n) => {
        const def = n._zod.def;
        const next = def.shape?.[String(key)] ?? def.valueType ?? def.element;
        return next ? unwrap(next) : [];
      });
    }
    return [...new Set(nodes.flatMap((n) => Object.keys(n._zod.def.shape ?? {})))];
  };
