import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { convertActionTemplate, parseAction } from '@actions/workflow-parser/actions/index';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { actionRuntime } from '../scripts/bundle.js';

const workflows = (await readdir('.github/workflows')).filter((f) => f.endsWith('.yml')).map((f) => join('.github/workflows', f));
const actionDirs = [
  ...(await readdir('actions', { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => join('actions', d.name)),
  ...(await readdir('.github/actions')).map((d) => join('.github/actions', d)),
];
const errorsOf = (context: { errors: { getErrors(): { message: string }[] } }) => context.errors.getErrors().map((e) => e.message);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
}
interface Defaults {
  defaults?: { run?: { shell?: string } };
}
interface ActionYaml {
  inputs?: Record<string, { required?: boolean; default?: string }>;
  runs: { using: string; steps?: Step[] };
}
interface WorkflowYaml extends Defaults {
  jobs: Record<string, Defaults & { steps?: Step[] }>;
}

/** Every step list: each workflow job's, and each composite action's, with the shell its `run:` gets by default. */
async function stepLists(): Promise<{ where: string; steps: Step[]; shell?: string }[]> {
  const lists: { where: string; steps: Step[]; shell?: string }[] = [];
  for (const file of workflows) {
    const workflow = parse(await readFile(file, 'utf8')) as WorkflowYaml;
    for (const [job, spec] of Object.entries(workflow.jobs))
      lists.push({ where: `${file} ${job}`, steps: spec.steps ?? [], shell: spec.defaults?.run?.shell ?? workflow.defaults?.run?.shell });
  }
  for (const dir of actionDirs) {
    const action = parse(await readFile(join(dir, 'action.yml'), 'utf8')) as ActionYaml;
    if (action.runs.steps) lists.push({ where: `${dir}/action.yml`, steps: action.runs.steps });
  }
  return lists;
}

describe("GitHub's own parser", () => {
  it.each(workflows)('accepts %s with no errors', async (file) => {
    const parsed = parseWorkflow({ name: file, content: await readFile(file, 'utf8') }, new NoOperationTraceWriter());
    expect(errorsOf(parsed.context)).toEqual([]);
    const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
    expect(template.errors ?? []).toEqual([]);
    expect(template.jobs.length).toBeGreaterThan(0);
  });

  it.each(actionDirs)('accepts %s/action.yml with no errors', async (dir) => {
    const parsed = parseAction(
      { name: `${dir}/action.yml`, content: await readFile(join(dir, 'action.yml'), 'utf8') },
      new NoOperationTraceWriter(),
    );
    expect(errorsOf(parsed.context)).toEqual([]);
    const action = convertActionTemplate(parsed.context, parsed.value!);
    expect(errorsOf(parsed.context)).toEqual([]);
    expect(action.runs).toBeDefined();
  });
});

describe('the workflows use the local actions as they are declared', () => {
  it.each(workflows)('%s passes only declared inputs, and every required one', async (file) => {
    const workflow = parse(await readFile(file, 'utf8')) as WorkflowYaml;
    for (const [job, { steps = [] }] of Object.entries(workflow.jobs)) {
      for (const step of steps.filter((s) => s.uses?.startsWith('./'))) {
        const action = parse(await readFile(join(step.uses!, 'action.yml'), 'utf8')) as ActionYaml;
        const declared = action.inputs ?? {};
        const given = Object.keys(step.with ?? {});
        expect(
          given.filter((name) => !(name in declared)),
          `${job}: ${step.uses}`,
        ).toEqual([]);
        const required = Object.entries(declared)
          .filter(([, i]) => i.required && i.default === undefined)
          .map(([name]) => name);
        expect(
          required.filter((name) => !given.includes(name)),
          `${job}: ${step.uses}`,
        ).toEqual([]);
      }
    }
  });

  it('pins every third-party action by commit SHA', async () => {
    for (const file of [...workflows, ...actionDirs.map((d) => join(d, 'action.yml'))]) {
      const uses = [...(await readFile(file, 'utf8')).matchAll(/uses:\s*([^\s#]+)/g)].map((m) => m[1]!).filter((u) => !u.startsWith('./'));
      for (const u of uses) expect(u, file).toMatch(/@[0-9a-f]{40}$/);
    }
  });
});

describe('a current platform', () => {
  it(`runs every JavaScript action on ${actionRuntime}, the runtime the bundles target`, async () => {
    expect(actionRuntime).toBe('node24');
    for (const dir of actionDirs.filter((d) => d.startsWith('actions/'))) {
      const action = parse(await readFile(join(dir, 'action.yml'), 'utf8')) as ActionYaml;
      expect(action.runs.using, dir).toBe(actionRuntime);
    }
  });

  it('sets up Node 24, but Node 20 for the first pass of .ci/run, which then tests on Node 24 too', async () => {
    const versions: string[] = [];
    for (const { where, steps } of await stepLists()) {
      steps.forEach((step, i) => {
        if (!step.uses?.startsWith('actions/setup-node@')) return;
        const version = String(step.with?.['node-version']);
        versions.push(version);
        if (version === '24') return;
        expect(version, where).toBe('20');
        expect(steps[i + 1]?.run, `${where}: Node ${version} is only for .ci/run`).toMatch(/\.ci\/run/);
      });
    }
    expect(versions).toContain('24');
  });

  it('installs the dependencies with npm ci, from the lock file', async () => {
    const runs = (await stepLists()).flatMap(({ steps }) => steps.flatMap((s) => (s.run ? [s.run] : [])));
    expect(runs.filter((run) => /\bnpm (install|i|add)\b/.test(run))).toEqual([]);
    expect(runs.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    const ciRun = await readFile('.ci/run', 'utf8');
    expect(ciRun).toMatch(/^npm ci\b/m);
    // The only other install is Node 24 itself, into a folder of its own.
    expect(ciRun.split('\n').filter((line) => /\bnpm (install|i)\b/.test(line) && !/--prefix/.test(line) && !/^\s*#/.test(line))).toEqual(
      [],
    );
  });
});

// A step's script runs as `bash -e {0}` unless it names a shell; `shell: bash` is
// `bash --noprofile --norc -eo pipefail {0}`. Without pipefail, `cmd | tee` succeeds with tee.
describe('a step that pipes a command through tee fails when the command fails', () => {
  const pipefail = /^\s*set\s+(-[a-z]+\s+)*-[a-z]*o\s+pipefail\b|^\s*set\s+-o\s+pipefail\b/m;

  it('has pipefail in effect: set -o pipefail before the pipe, or shell: bash', async () => {
    let piped = 0;
    for (const { where, steps, shell } of await stepLists()) {
      for (const step of steps.filter((s) => s.run && /\|\s*tee\b/.test(s.run))) {
        piped++;
        const script = step.run!;
        const before = script.slice(0, script.search(/\|\s*tee\b/));
        const effective = step.shell ?? shell;
        expect(effective === 'bash' || pipefail.test(before), `${where}: ${step.name ?? script}`).toBe(true);
      }
    }
    expect(piped).toBeGreaterThan(0);
  });

  it("fails the reevaluate step with mlops reevaluate's exit code, and still closes the summary", async () => {
    const workflow = parse(await readFile('.github/workflows/reevaluate.yml', 'utf8')) as WorkflowYaml;
    const step = workflow.jobs.reevaluate!.steps!.find((s) => s.name === 'mlops reevaluate')!;
    const dir = await mkdtemp(join(tmpdir(), 'mlops-step-'));
    try {
      await writeFile(join(dir, 'step.sh'), step.run!);
      const summary = join(dir, 'summary.md');
      // The real command, failing as a config error (exit 2): no config file where it is told to look.
      const result = spawnSync('bash', ['-e', join(dir, 'step.sh')], {
        encoding: 'utf8',
        env: { ...process.env, RUN_ID: 'gh-1', AS_OF: '', GITHUB_STEP_SUMMARY: summary, MLOPS_CONFIG: join(dir, 'missing.yaml') },
      });
      expect(result.stderr).toContain('config file not found');
      expect(result.status).toBe(2);
      expect(await readFile(summary, 'utf8')).toMatch(/```text\n[\s\S]*```\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface FullJob {
  environment?: string;
  env?: Record<string, string>;
  steps?: (Step & { env?: Record<string, string>; if?: string })[];
}
const workflowFile = async (name: string) =>
  parse(await readFile(`.github/workflows/${name}`, 'utf8')) as {
    env?: Record<string, string>;
    concurrency: { group: string };
    jobs: Record<string, FullJob>;
  };

describe('what a fork meets', () => {
  it("documents every secret and variable the workflows read in the README's table, with its kind, and no other", async () => {
    const read = new Map<string, string>();
    for (const file of [...workflows, ...actionDirs.map((d) => join(d, 'action.yml'))])
      for (const [, kind, name] of (await readFile(file, 'utf8')).matchAll(/\b(secrets|vars)\.([A-Z_]+)/g))
        read.set(name!, kind === 'secrets' ? 'secret' : 'variable');
    const readme = await readFile('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('Every secret and variable the workflows read'));
    const rows = [...table.matchAll(/^\| `([A-Z_]+)`\s*\| (secret|variable)\s*\|/gm)].map(([, name, kind]) => [name!, kind!] as const);
    expect(new Map(rows)).toEqual(read);
  });

  it('sets secrets on the steps that need them, never for a whole workflow or job', async () => {
    for (const file of workflows) {
      const workflow = await workflowFile(file.replace('.github/workflows/', ''));
      expect(JSON.stringify(workflow.env ?? {}), file).not.toMatch(/secrets\./);
      for (const [name, job] of Object.entries(workflow.jobs))
        expect(JSON.stringify(job.env ?? {}), `${file} ${name}`).not.toMatch(/secrets\./);
    }
  });

  it('runs every job that changes what serves in the production environment', async () => {
    const train = await workflowFile('train.yml');
    const reevaluate = await workflowFile('reevaluate.yml');
    expect([train.jobs.build!.environment, train.jobs.deploy!.environment, reevaluate.jobs.reevaluate!.environment]).toEqual([
      'production',
      'production',
      'production',
    ]);
  });

  it('gives each dispatched run a concurrency group of its own, since GitHub cancels a pending run when another joins', async () => {
    for (const name of ['train.yml', 'monitor.yml', 'reevaluate.yml']) {
      const { group } = (await workflowFile(name)).concurrency;
      expect(group, name).toContain("github.event_name == 'schedule' && 'schedule' || github.run_id");
    }
  });

  it('uploads the run of every train job whether it passed or failed, under names no attempt reuses', async () => {
    const train = await workflowFile('train.yml');
    for (const [name, job] of Object.entries(train.jobs)) {
      const save = job.steps!.find((s) => s.uses === './.github/actions/save');
      expect(save, name).toMatchObject({ if: '${{ !cancelled() }}', with: { job: name, failed: "${{ job.status == 'failure' }}" } });
    }
    const action = await readFile('.github/actions/save/action.yml', 'utf8');
    expect(action).toContain("format('run-{0}-failed-attempt-{1}', inputs.job, github.run_attempt)");
  });

  it("judges a window longer than the monitor's hourly schedule, so a late run leaves no gap", async () => {
    const monitorYml = await readFile('.github/workflows/monitor.yml', 'utf8');
    expect(monitorYml).toMatch(/cron: '\d+ \* \* \* \*'/);
    const config = parse(await readFile('mlops.config.yaml', 'utf8')) as { monitoring: { window: string } };
    const [, n, unit] = /^(\d+)([mhd])$/.exec(config.monitoring.window)!;
    expect(Number(n) * { m: 1, h: 60, d: 1440 }[unit as 'm' | 'h' | 'd']).toBeGreaterThan(60);
  });
});
