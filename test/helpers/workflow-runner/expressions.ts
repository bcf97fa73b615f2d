import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { truthy } from '@actions/expressions/result';
import { isBasicExpression, isBoolean, isMapping, isNumber, isSequence, isString } from '@actions/workflow-parser';
import type { BasicExpressionToken } from '@actions/workflow-parser/templates/tokens/basic-expression-token';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';

/** What the status functions see: the job so far for a step; for a job, its ancestors ('skipped': some skipped, none failed). */
export type Status = 'success' | 'failure' | 'cancelled' | 'skipped';

/** The contexts an expression reads (github, env, inputs, needs, steps, job, ...), as plain JSON. */
export type Contexts = Record<string, unknown>;

/**
 * What `success()`, `failure()`, `cancelled()` and `always()` answer: for a job, from the results
 * of all the jobs it depends on (GitHub looks at every ancestor, not just `needs`); for a step,
 * from the job's status so far.
 */
function statusFunctions(status: Status): Map<string, FunctionDefinition> {
  const fn = (name: string, value: () => boolean): [string, FunctionDefinition] => [
    name,
    { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value()) },
  ];
  return new Map([
    fn('success', () => status === 'success'),
    fn('failure', () => status === 'failure'),
    fn('cancelled', () => status === 'cancelled'),
    fn('always', () => true),
  ]);
}

/** Status functions exist in `if:` conditions only, as on GitHub. */
function evaluateExpression(expression: string, contexts: Contexts, status?: Status): data.ExpressionData {
  const functions = status ? statusFunctions(status) : new Map<string, FunctionDefinition>();
  const tree = new Parser(new Lexer(expression).lex().tokens, Object.keys(contexts), [...functions.values()]).parse();
  const context = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary;
  return new Evaluator(tree, context, functions).evaluate();
}

/** A template token (a literal, an expression, a mapping or sequence of them) evaluated to JSON. */
export function evaluate(token: TemplateToken, contexts: Contexts): unknown {
  if (isBasicExpression(token)) return JSON.parse(JSON.stringify(evaluateExpression(token.expression, contexts), data.replacer)) as unknown;
  if (isString(token) || isBoolean(token) || isNumber(token)) return token.value;
  if (isMapping(token)) return Object.fromEntries([...token].map((p) => [String(evaluate(p.key, contexts)), evaluate(p.value, contexts)]));
  if (isSequence(token)) return Array.from({ length: token.count }, (_, i) => evaluate(token.get(i), contexts));
  return null;
}

/** An `if:` condition, which the parser has already wrapped in `success() && (...)` when it names no status function. */
export const condition = (token: BasicExpressionToken, contexts: Contexts, status: Status) =>
  truthy(evaluateExpression(token.expression, contexts, status));

/** A value as the runner turns it into an input or an env var: booleans and numbers as text, null as empty. */
export const asString = (value: unknown) =>
  value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);

/** A mapping token (env, with, outputs) evaluated to strings; none for an absent token. */
export const strings = (token: TemplateToken | undefined, contexts: Contexts): Record<string, string> =>
  token ? Object.fromEntries(Object.entries(evaluate(token, contexts) as object).map(([k, v]) => [k, asString(v)])) : {};
