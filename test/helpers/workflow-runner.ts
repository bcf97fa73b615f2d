import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import type { Job, WorkflowJob } from '@actions/workflow-parser/model/workflow-template';
import type { MappingToken } from '@actions/workflow-parser/templates/tokens/mapping-token';
import { git } from './git-remote.js';
import { asString, condition, evaluate, strings, type Contexts, type Status } from './workflow-runner/expressions.js';
import { commit, snapshot } from './workflow-runner/repository.js';
import { npmShim, standIns, type Machine } from './workflow-runner/stand-ins.js';
import { runSteps, stepSpecs, type Annotation, type JobRuntime } from './workflow-runner/steps.js';

export type { Annotation } from './workflow-runner/steps.js';

export type JobResult = 'success' | 'failure' | 'skipped' | 'cancelled';

export interface JobRun {
  result: JobResult;
  outputs: Record<string, string>;
  /** The job's summary: what its steps wrote to GITHUB_STEP_SUMMARY. */
  summary: string;
  annotations: Annotation[];
  log: string;
  /** The attempt that ran the job (a re-run keeps the jobs that passed from earlier attempts). */
  attempt: number;
  /** Its `environment:` (not enforced: no reviewers, no environment secrets). */
  environment?: string;
}

export interface WorkflowRun {
  workflow: string;
  runId: number;
  attempt: number;
  event: WorkflowEvent;
  jobs: Record<string, JobRun>;
}

export interface WorkflowEvent {
  name: 'schedule' | 'workflow_dispatch';
  /** Dispatch inputs; the workflow's defaults fill the rest. */
  inputs?: Record<string, string | boolean>;
}

export interface HarnessOptions {
  /** The fake GitHub API (test/helpers/fake-github.ts) the steps call, as GITHUB_API_URL. */
  apiUrl: string;
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
  /** Files written over every checkout, by path: a changed config, broken data. Change them between runs. */
  files?: Record<string, string>;
}

const REPOSITORY = 'acme/penguins';
const SOURCE = process.cwd();

/**
 * Runs this repository's workflows as GitHub's runner would, on this machine: jobs in the order of
 * their `needs`, one at a time, each on a fresh workspace; `if:`, `env`, `with` and outputs on
 * GitHub's own parser and expression evaluator; local actions from their committed bundles.
 * Left to GitHub: permissions and the token's scopes, environments' rules and secrets, concurrency,
 * timeouts, matrices, reusable workflows, services, caches, GITHUB_PATH, secret masking, the runner
 * image and its Node 24 (steps run on this machine's Node), jobs in parallel.
 */
export async function workflowHarness(options: HarnessOptions) {
  const root = await mkdtemp(join(tmpdir(), 'mlops-workflow-'));
  const remote = join(root, 'remote.git');
  await git(root, 'init', '--quiet', '--bare', remote);
  const bin = join(root, 'bin');
  await npmShim(bin, SOURCE);
  const repository = join(root, 'repository');
  await snapshot(SOURCE, repository);
  const files = { ...options.files };
  // The process group of every step of the running job: what the runner's orphan cleanup kills.
  const processGroups = new Set<number>();
  const killProcesses = () => {
    for (const pid of processGroups) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the whole group has exited
      }
    }
    processGroups.clear();
  };
  let lastRunId = 41_000;

  async function runJobs(workflow: string, runId: number, attempt: number, event: WorkflowEvent, earlier: Record<string, JobRun>) {
    const sha = await commit(repository, files);
    const content = await readFile(join(repository, '.github/workflows', workflow), 'utf8');
    const parsed = parseWorkflow({ name: workflow, content }, new NoOperationTraceWriter());
    const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
    if (template.errors?.length) throw new Error(template.errors.map((e) => e.Message).join('\n'));
    const raw = parsed.value as MappingToken;
    const rawJobs = raw.find('jobs') as MappingToken;
    // A dispatch has every declared input, its default where not given, and no other (GitHub refuses it); a schedule has none.
    const declared = template.events.workflow_dispatch?.inputs ?? {};
    const unknown = Object.keys(event.inputs ?? {}).filter((k) => !(k in declared));
    if (unknown.length) throw new Error(`${workflow} declares no input ${unknown.join(', ')}`);
    const inputs =
      event.name === 'workflow_dispatch'
        ? Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, event.inputs?.[k] ?? v.default ?? '']))
        : {};
    const github = {
      token: 'ghs_workflow-token',
      run_id: String(runId),
      run_attempt: String(attempt),
      run_number: String(runId - 41_000),
      repository: REPOSITORY,
      repository_owner: REPOSITORY.split('/')[0],
      event_name: event.name,
      event: event.name === 'workflow_dispatch' ? { inputs } : { schedule: '17 4 * * *' },
      ref: 'refs/heads/main',
      ref_name: 'main',
      sha,
      workflow: asString(raw.find('name') && evaluate(raw.find('name')!, {})) || workflow,
      api_url: options.apiUrl,
      server_url: 'https://github.com',
      actor: 'github-actions[bot]',
    };
    const secrets = { GITHUB_TOKEN: github.token, ...options.secrets };
    const base: Contexts = { github, inputs, vars: options.vars ?? {}, secrets };
    const workflowEnv = strings(template.env, base);
    const jobs: Record<string, JobRun> = {};
    const ancestors = (id: string): string[] => {
      const needs = template.jobs.find((j) => j.id.value === id)?.needs?.map((n) => n.value) ?? [];
      return [...new Set([...needs, ...needs.flatMap(ancestors)])];
    };
    for (const job of ordered(template.jobs)) {
      const id = job.id.value;
      const rerun =
        !earlier[id] || ['failure', 'cancelled'].includes(earlier[id].result) || ancestors(id).some((a) => jobs[a]!.attempt === attempt);
      if (!rerun) {
        jobs[id] = earlier[id]!;
        continue;
      }
      const needs = Object.fromEntries(
        (job.needs ?? []).map((n) => [n.value, { result: jobs[n.value]!.result, outputs: jobs[n.value]!.outputs }]),
      );
      const results = ancestors(id).map((a) => jobs[a]!.result);
      const status: Status = results.includes('failure')
        ? 'failure'
        : results.includes('cancelled')
          ? 'cancelled'
          : results.every((r) => r === 'success')
            ? 'success'
            : 'skipped';
      const contexts = { ...base, needs, env: workflowEnv, github: { ...github, job: id } };
      const environment = job.environment && asString(evaluate(job.environment, contexts));
      jobs[id] = condition(job.if, contexts, status)
        ? { ...(await runJob(job, rawJobs.find(id) as MappingToken, contexts, workflowEnv)), attempt, ...(environment && { environment }) }
        : { result: 'skipped', outputs: {}, summary: '', annotations: [], log: '', attempt };
    }
    return jobs;
  }

  async function runJob(job: Job, raw: MappingToken, contexts: Contexts, workflowEnv: Record<string, string>) {
    const dir = await mkdtemp(join(root, `${job.id.value}-`));
    const workspace = join(dir, 'workspace');
    const temp = join(dir, 'temp');
    await Promise.all([mkdir(workspace), mkdir(temp)]);
    const github = contexts.github as Record<string, string> & { event: object };
    const eventPath = join(temp, 'event.json');
    await writeFile(eventPath, JSON.stringify(github.event));
    const machine: Machine = { source: SOURCE, repository, remote, artifacts: join(root, 'artifacts'), runId: github.run_id! };
    const runtime: JobRuntime = {
      workspace,
      temp,
      contexts: { ...contexts, runner: { os: 'Linux', temp } },
      env: { ...workflowEnv, ...strings(job.env, contexts) },
      runnerEnv: {
        PATH: `${bin}:${join(workspace, 'node_modules/.bin')}:${process.env.PATH}`,
        HOME: process.env.HOME ?? root,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: workspace,
        GITHUB_RUN_ID: github.run_id!,
        GITHUB_RUN_ATTEMPT: github.run_attempt!,
        GITHUB_RUN_NUMBER: github.run_number!,
        GITHUB_REPOSITORY: github.repository!,
        GITHUB_REPOSITORY_OWNER: github.repository_owner!,
        GITHUB_API_URL: github.api_url!,
        GITHUB_SERVER_URL: github.server_url!,
        GITHUB_WORKFLOW: github.workflow!,
        GITHUB_JOB: job.id.value,
        GITHUB_EVENT_NAME: github.event_name!,
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_REF: github.ref!,
        GITHUB_REF_NAME: github.ref_name!,
        GITHUB_SHA: github.sha!,
        GITHUB_ACTOR: github.actor!,
        RUNNER_OS: 'Linux',
        RUNNER_TEMP: temp,
      },
      processGroups,
      scope: { steps: {}, status: 'success' },
      summary: '',
      annotations: [],
      log: '',
      standIn: (uses, inputs, job) => {
        const standIn = standIns[uses.split('@')[0]!];
        if (!standIn) throw new Error(`no stand-in for ${uses}`);
        return standIn(inputs, job, machine);
      },
    };
    await runSteps(runtime, stepSpecs(job.steps, raw.find('steps'))).finally(killProcesses);
    const { steps, status } = runtime.scope;
    const outputs = strings(job.outputs, { ...runtime.contexts, env: runtime.env, steps, job: { status } });
    return {
      result: status === 'success' ? 'success' : 'failure',
      outputs,
      summary: runtime.summary,
      annotations: runtime.annotations,
      log: runtime.log,
    } as const;
  }

  return {
    root,
    /** The bare repository every checkout pushes to (the registry's branch is there). */
    remote,
    /** The artifact store: `<artifacts>/<run id>/<name>/`. */
    artifacts: join(root, 'artifacts'),
    /** The files written over every checkout; change them between runs. */
    files,
    /** A new workflow run, e.g. `run('train.yml', { name: 'schedule' })`. */
    async run(workflow: string, event: WorkflowEvent): Promise<WorkflowRun> {
      const runId = ++lastRunId;
      return { workflow, runId, attempt: 1, event, jobs: await runJobs(workflow, runId, 1, event, {}) };
    },
    /**
     * "Re-run failed jobs": a new attempt of the run for its failed jobs and those after them; the
     * others keep their results and outputs. It checks out `files` as they are now, where GitHub
     * would check out the run's commit again: a changed file stands for what may change between
     * attempts on GitHub (a variable, the warehouse's data).
     */
    async rerunFailedJobs(run: WorkflowRun): Promise<WorkflowRun> {
      const attempt = run.attempt + 1;
      return { ...run, attempt, jobs: await runJobs(run.workflow, run.runId, attempt, run.event, run.jobs) };
    },
    /** Kills what a job left running (a test that timed out), and removes every file. */
    async close() {
      killProcesses();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Jobs in an order where each comes after its needs, otherwise as written. */
function ordered(jobs: WorkflowJob[]): Job[] {
  const unsupported = jobs.find((j) => j.type !== 'job' || j.strategy);
  if (unsupported) throw new Error(`job ${unsupported.id.value}: reusable workflows and matrices do not run here`);
  const done = new Set<string>();
  const out: Job[] = [];
  while (out.length < jobs.length) {
    const next = jobs.find((j) => !done.has(j.id.value) && (j.needs ?? []).every((n) => done.has(n.value)));
    if (!next) throw new Error('the jobs need each other in a cycle');
    done.add(next.id.value);
    out.push(next as Job);
  }
  return out;
}
