import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { convertActionTemplate, parseAction } from '@actions/workflow-parser/actions/index';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const workflows = (await readdir('.github/workflows')).filter((f) => f.endsWith('.yml')).map((f) => join('.github/workflows', f));
const actionDirs = [
  ...(await readdir('actions', { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => join('actions', d.name)),
  ...(await readdir('.github/actions')).map((d) => join('.github/actions', d)),
];
const errorsOf = (context: { errors: { getErrors(): { message: string }[] } }) => context.errors.getErrors().map((e) => e.message);

interface ActionYaml {
  inputs?: Record<string, { required?: boolean; default?: string }>;
}
interface WorkflowYaml {
  jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }>;
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
