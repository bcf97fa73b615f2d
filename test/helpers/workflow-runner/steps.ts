import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isMapping, isSequence, NoOperationTraceWriter } from '@actions/workflow-parser';
import { convertActionTemplate, parseAction, type Step } from '@actions/workflow-parser/actions/index';
import type { MappingToken } from '@actions/workflow-parser/templates/tokens/mapping-token';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { asString, condition, evaluate, strings, type Contexts, type Status } from './expressions.js';

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  title?: string;
  file?: string;
}

/** A job on its fresh runner: what every step sees, and what the job reports. */
export interface JobRuntime {
  workspace: string;
  temp: string;
  /** The contexts that do not change from step to step: github, inputs, vars, secrets, needs, runner. */
  contexts: Contexts;
  /** The workflow's and job's env, then what steps added through GITHUB_ENV. */
  env: Record<string, string>;
  /** What the runner sets for every process: GITHUB_*, RUNNER_*, CI, PATH. */
  runnerEnv: Record<string, string>;
  /** Each step's process group, killed when the job ends. */
  processGroups: Set<number>;
  /** The job's own steps; its status is `job.status`. */
  scope: Scope;
  summary: string;
  annotations: Annotation[];
  log: string;
  /** Runs a step of a third-party action, `owner/repo@ref`, through its stand-in. */
  standIn: (uses: string, inputs: Record<string, string>, job: JobRuntime) => Promise<StepOutcome>;
}

export interface StepOutcome {
  ok: boolean;
  outputs: Record<string, string>;
}

/** A step as the parser models it, with its `with`, `shell` and `working-directory`, which the model leaves out. */
export interface StepSpec {
  step: Step;
  raw: MappingToken;
}

/**
 * The steps of a job or of a composite action: their own `steps` context, `inputs` in an action,
 * and the status their `success()` and `failure()` read: inside a composite action, the action's
 * own (the runner's `action_status`), so its steps run after a failure of the job's.
 */
export interface Scope {
  steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }>;
  status: Status;
  inputs?: Record<string, string>;
  /** In a composite action, the `env:` of the steps that called it, over the job's env. */
  env?: Record<string, string>;
}

/** The step specs of a `steps:` sequence: the model's steps paired with their raw mappings. */
export function stepSpecs(steps: Step[], raw: TemplateToken | undefined): StepSpec[] {
  if (!raw || !isSequence(raw)) throw new Error('no steps');
  return steps.map((step, i) => ({ step, raw: raw.get(i).assertMapping('step') }));
}

/** A workflow command (`::error title=T::message`) as the runner reads it from a step's stdout. */
const COMMAND = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/;
const unescape = (s: string) =>
  s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');

export function report(job: JobRuntime, text: string): void {
  job.log += text;
  for (const line of text.split('\n')) {
    const m = COMMAND.exec(line.trimEnd());
    if (!m) continue;
    const props = Object.fromEntries(
      (m[2] ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('=', 2).map(unescape)),
    );
    job.annotations.push({ level: m[1] as Annotation['level'], message: unescape(m[3]!), ...props });
  }
}

/** `name=value` lines and `name<<DELIMITER` heredocs, as in GITHUB_OUTPUT and GITHUB_ENV. */
function fileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      out[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i]!.includes('=')) {
      const at = lines[i]!.indexOf('=');
      out[lines[i]!.slice(0, at)] = lines[i]!.slice(at + 1);
    }
  }
  return out;
}

/**
 * One process of a step, as the runner starts it: fresh GITHUB_OUTPUT, GITHUB_ENV and
 * GITHUB_STEP_SUMMARY files, stdout and stderr into the log, workflow commands into annotations.
 * Its exit code decides the outcome.
 */
async function execute(job: JobRuntime, argv: string[], cwd: string, env: Record<string, string>): Promise<StepOutcome> {
  const id = randomUUID();
  const files = { GITHUB_OUTPUT: `output_${id}`, GITHUB_ENV: `env_${id}`, GITHUB_STEP_SUMMARY: `summary_${id}` };
  const paths = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, join(job.temp, f)]));
  for (const path of Object.values(paths)) await writeFile(path, '');
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { ...job.runnerEnv, ...env, ...paths },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  job.processGroups.add(child.pid!);
  // The runner reads workflow commands from both streams, a line at a time.
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => report(job, `${line}\n`));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const read = (name: string) => readFile(paths[name]!, 'utf8');
  Object.assign(job.env, fileCommands(await read('GITHUB_ENV')));
  job.summary += await read('GITHUB_STEP_SUMMARY');
  return { ok: code === 0, outputs: fileCommands(await read('GITHUB_OUTPUT')) };
}

/** The runner's shells: no `shell:` is `bash -e {0}`; `shell: bash` adds pipefail and no profile; any other names its `{0}`. */
const SHELLS: Record<string, string> = {
  default: 'bash -e {0}',
  bash: 'bash --noprofile --norc -eo pipefail {0}',
  sh: 'sh -e {0}',
};

async function runScript(job: JobRuntime, spec: StepSpec, script: string, env: Record<string, string>, contexts: Contexts) {
  const file = join(job.temp, `${randomUUID()}.sh`);
  await writeFile(file, script);
  const shell = spec.raw.find('shell');
  const name = shell ? asString(evaluate(shell, contexts)) : 'default';
  const template = SHELLS[name] ?? name;
  const dir = spec.raw.find('working-directory');
  const cwd = dir ? join(job.workspace, asString(evaluate(dir, contexts))) : job.workspace;
  return execute(
    job,
    template.split(' ').map((a) => (a === '{0}' ? file : a)),
    cwd,
    env,
  );
}

/** A local action (`uses: ./path`), from its action.yml in the workspace: a node action's bundle, or a composite's steps. */
async function runLocalAction(
  job: JobRuntime,
  path: string,
  given: Record<string, string>,
  stepEnv: Record<string, string>,
  contexts: Contexts,
) {
  const dir = join(job.workspace, path);
  const content = await readFile(join(dir, 'action.yml'), 'utf8');
  const parsed = parseAction({ name: `${path}/action.yml`, content }, new NoOperationTraceWriter());
  const action = convertActionTemplate(parsed.context, parsed.value!);
  const inputs: Record<string, string> = {};
  for (const input of action.inputs ?? []) inputs[input.id] = input.default ? asString(evaluate(input.default, contexts)) : '';
  Object.assign(inputs, given);
  if (action.runs.using === 'composite') {
    const raw = (parsed.value as MappingToken).find('runs');
    const scope: Scope = { steps: {}, status: 'success', inputs, env: stepEnv };
    await runSteps(job, stepSpecs(action.runs.steps, raw && isMapping(raw) ? raw.find('steps') : undefined), scope);
    const outputContexts = { ...contexts, steps: scope.steps, inputs };
    const outputs = Object.fromEntries(
      (action.outputs ?? []).map((o) => [o.id, o.value ? asString(evaluate(o.value, outputContexts)) : '']),
    );
    return { ok: scope.status === 'success', outputs };
  }
  if (!('main' in action.runs)) throw new Error(`${path}: only node and composite actions run here`);
  // The runner's input variables: upper case, spaces to underscores, dashes kept (INPUT_RUN-ID).
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]));
  const env = { ...job.env, ...stepEnv, ...inputEnv, GITHUB_ACTION_PATH: dir };
  return execute(job, [process.execPath, join(dir, action.runs.main)], job.workspace, env);
}

/** Runs steps in order, each `if:` against the scope's status so far; a step that fails fails the scope. */
export async function runSteps(job: JobRuntime, specs: StepSpec[], scope = job.scope): Promise<void> {
  for (const spec of specs) {
    const { step } = spec;
    const base = { ...job.contexts, steps: scope.steps, job: { status: job.scope.status }, ...(scope.inputs && { inputs: scope.inputs }) };
    const record = (outcome: string, conclusion = outcome, outputs: Record<string, string> = {}) => {
      if (step.id && !step.id.startsWith('__')) scope.steps[step.id] = { outputs, outcome, conclusion };
    };
    if (!('run' in step || 'uses' in step)) throw new Error(`step ${step.id}: only run and uses steps run here`);
    const inherited = { ...job.env, ...scope.env };
    if (!condition(step.if, { ...base, env: inherited }, scope.status)) {
      record('skipped');
      continue;
    }
    const stepEnv = { ...scope.env, ...strings(step.env, { ...base, env: inherited }) };
    const env = { ...job.env, ...stepEnv };
    const contexts = { ...base, env };
    const uses = 'uses' in step ? asString(evaluate(step.uses, contexts)) : '';
    const given = strings(spec.raw.find('with'), contexts);
    const script = 'run' in step ? asString(evaluate(step.run, contexts)) : '';
    job.log += `Run ${uses || script.split('\n')[0]}\n`;
    const outcome = await ('run' in step
      ? runScript(job, spec, script, env, contexts)
      : uses.startsWith('./')
        ? runLocalAction(job, uses, given, stepEnv, contexts)
        : job.standIn(uses, given, job));
    const allowed = step['continue-on-error'];
    const continueOnError = typeof allowed === 'boolean' ? allowed : allowed !== undefined && Boolean(evaluate(allowed, contexts));
    record(outcome.ok ? 'success' : 'failure', outcome.ok || continueOnError ? 'success' : 'failure', outcome.outputs);
    if (!outcome.ok && !continueOnError) scope.status = 'failure';
  }
}
