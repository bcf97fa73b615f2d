import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeIssue {
  number: number;
  title: string;
  body: string;
  labels: { name: string }[];
  state: string;
  state_reason?: string;
  html_url: string;
}

/**
 * GitHub's issues API for the repository acme/penguins, under a GitHub Enterprise style `/api/v3`,
 * on a local port: the one thing the alert tests fake. It keeps issues and comments, records every
 * call, and takes workflow dispatches (the Actions API the retirement uses).
 */
export async function fakeGitHub() {
  const state = {
    issues: [] as FakeIssue[],
    comments: new Map<number, { body: string }[]>(),
    calls: [] as string[],
    auth: new Set<string | undefined>(),
    /** When set, every call fails with this status, as GitHub does without `issues: write`. */
    status: 0,
    /** When set, every issues call fails with 410, as in a repository with Issues turned off. */
    issuesDisabled: false,
    /** Workflow dispatches: the workflow file and the body (ref, inputs). */
    dispatches: [] as { workflow: string; ref: string; inputs?: Record<string, unknown> }[],
  };

  function handle(method: string, path: string, query: URLSearchParams, body: any): [number, unknown] {
    const dispatch = /^\/api\/v3\/repos\/acme\/penguins\/actions\/workflows\/([^/]+)\/dispatches$/.exec(path);
    if (dispatch && method === 'POST') {
      state.dispatches.push({ workflow: decodeURIComponent(dispatch[1]!), ...body });
      return [204, undefined];
    }
    if (state.issuesDisabled) return [410, { message: 'Issues are disabled for this repo' }];
    const m = /^\/api\/v3\/repos\/acme\/penguins\/issues(?:\/(\d+))?(\/comments)?$/.exec(path);
    if (!m) return [404, { message: 'Not Found' }];
    const issue = state.issues.find((i) => i.number === Number(m[1]));
    if (!m[1] && method === 'GET') {
      return [200, state.issues.filter((i) => i.state === query.get('state') && i.labels.some((l) => l.name === query.get('labels')))];
    }
    if (!m[1] && method === 'POST') {
      const number = state.issues.length + 1;
      const created = {
        ...body,
        labels: body.labels.map((name: string) => ({ name })),
        number,
        state: 'open',
        html_url: `https://ghe/${number}`,
      };
      state.issues.push(created);
      return [201, created];
    }
    if (!issue) return [404, { message: 'Not Found' }];
    const comments = state.comments.get(issue.number) ?? [];
    state.comments.set(issue.number, comments);
    if (m[2] && method === 'GET') return [200, comments];
    if (m[2] && method === 'POST') return [201, comments[comments.push({ body: body.body }) - 1]];
    if (method === 'PATCH') return [200, Object.assign(issue, body)];
    return [404, { message: 'Not Found' }];
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://localhost');
      state.calls.push(`${req.method} ${url.pathname.replace('/api/v3/repos/acme/penguins', '')}`);
      state.auth.add(req.headers.authorization);
      const [status, data] = state.status
        ? [state.status, { message: 'Resource not accessible by integration' }]
        : handle(req.method!, url.pathname, url.searchParams, raw ? JSON.parse(raw) : undefined);
      res.writeHead(status, { 'content-type': 'application/json' }).end(data === undefined ? undefined : JSON.stringify(data));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3`,
    reset: () =>
      Object.assign(state, {
        issues: [],
        comments: new Map(),
        calls: [],
        auth: new Set(),
        status: 0,
        issuesDisabled: false,
        dispatches: [],
      }),
    open: () => state.issues.filter((i) => i.state === 'open'),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
