import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { embeddedAssets, target } from '../../scripts/build-dashboard.js';
import type { Config } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { pollUntil } from '../../src/poll.js';
import { runPredict } from '../../src/predict/run.js';
import { recentRuns } from '../../src/runs/recent.js';
import { parseDrift } from '../../serving/dashboard/drift.js';
import { MAX_EVENT_STREAMS, type DashboardSnapshot } from '../../serving/dashboard/routes.js';
import { startProxy, type ProxyOptions } from '../../serving/proxy.js';
import type { RunningServer } from '../../serving/server.js';
import { chromiumInstalled, launchChromium } from '../helpers/browser.js';
import { underLoad } from '../helpers/load.js';
import { sampleFeatures } from './fuzz-corpus.js';
import { championServer, contextFor, isolatedConfig, trainedRun } from '../helpers/model.js';

const TOKEN = 'dashboard-test-token';
const SCREENSHOT = 'test-results/dashboard.png';

let root: string;
let config: Config;
/** A real prediction server serving the trained champion, v1, of the run "dashboard". */
let server: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mlops-dashboard-'));
  config = await isolatedConfig(root);
  config.serving.shutdown_grace_seconds = 0.5;
  await trainedRun(config, 'dashboard');
  await runPredict(await contextFor(config, 'batch'), { asOf: '2010-01-01' });
  server = await championServer(config);
});
afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((p) => p.close()));
});

/** A proxy on a free port sampling every 200 ms, with the prediction server registered as "a". */
async function proxy(options: Partial<ProxyOptions> = {}) {
  const started = await startProxy({
    logger: memoryLogger(),
    port: 0,
    adminToken: TOKEN,
    healthIntervalMs: 100,
    dashboard: { intervalMs: 200, historyMs: 60_000 },
    ...options,
  });
  opened.push(started);
  const res = await fetch(`${started.url}/backends/a`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ url: server.url, version: 'v1' }),
  });
  expect(res.status).toBe(201);
  await res.arrayBuffer();
  return started;
}

/** A second server of the champion, registered as "b" and held as the shadow of a release at share 1. */
async function shadowStage(proxyUrl: string) {
  const shadow = await championServer(config);
  opened.push(shadow);
  for (const [path, body] of [
    ['/backends/b', { url: shadow.url, version: 'v1-retrained' }],
    ['/release', { mode: 'shadow', url: shadow.url, share: 1 }],
  ] as const) {
    const res = await fetch(`${proxyUrl}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
  }
  return shadow;
}

/** Predictions through the proxy for `ms`. */
async function traffic(url: string, ms: number) {
  const load = underLoad(url, 4);
  await new Promise((r) => setTimeout(r, ms));
  const { ok, failures } = await load.stop();
  expect(failures).toEqual([]);
  return ok;
}

/** The server-sent events of a stream, as they arrive, until the stream ends. */
async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        lines
          .filter((l) => l.startsWith(`${name}: `))
          .map((l) => l.slice(name.length + 2))
          .join('\n');
      yield { event: field('event'), data: field('data') };
    }
  }
}

describe("the dashboard's routes", () => {
  it('serves the page and its assets read-only, same-origin only, revalidated by ETag', async () => {
    const p = await proxy();
    const page = await fetch(`${p.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    for (const asset of ['uplot.min.js', 'uplot.min.css', 'page.js', 'page.css']) {
      expect(html).toContain(`/dashboard/${asset}`);
      const res = await fetch(`${p.url}/dashboard/${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      await res.arrayBuffer();
    }
    const again = await fetch(`${p.url}/dashboard`, { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('keeps everything under /dashboard to itself: an unknown path is its 404, never forwarded to a prediction server', async () => {
    const p = await proxy();
    for (const [method, path] of [
      ['GET', '/dashboard/predict'],
      ['POST', '/dashboard'],
      ['GET', '/dashboard/'],
    ]) {
      const res = await fetch(`${p.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('x-mlops-backend')).toBeNull();
      expect(await res.json()).toEqual({ error: `no ${path}: the dashboard is at /dashboard` });
    }
  });

  it('serves the history as JSON, and says plainly when the proxy has no run ledger', async () => {
    const p = await proxy();
    await traffic(p.url, 700);
    const res = await fetch(`${p.url}/dashboard/data`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const data = (await res.json()) as DashboardSnapshot;
    expect(data).toMatchObject({ intervalMs: 200, historyMs: 60_000, backends: [{ id: 'a', version: 'v1', healthy: true }] });
    expect(data.runs).toEqual({ available: false, reason: expect.stringMatching(/^this proxy has no run ledger to read/) });
    const served = data.samples.flatMap((s) => s.traffic);
    expect(served.length).toBeGreaterThan(0);
    expect(served.every((t) => t.backend === 'a' && t.version === 'v1' && t.rps > 0 && t.errorRate === 0 && t.p95Ms! > 0)).toBe(true);
    const times = data.samples.map((s) => s.t);
    expect(times).toEqual([...times].sort((x, y) => x - y));
  });

  it("shows what the champion relies on: its permutation importance, read from its server's model card", async () => {
    const p = await proxy();
    const data = (await (await fetch(`${p.url}/dashboard/data`)).json()) as DashboardSnapshot;
    expect(data.importance).toMatchObject({ version: 'v1', importance: { metric: 'accuracy', repeats: 5 } });
    const columns = data.importance!.importance.columns;
    expect(columns.map((c) => c.column).sort()).toEqual([...sampleFeatures].sort());
    expect(columns.map((c) => c.drop)).toEqual([...columns.map((c) => c.drop)].sort((a, b) => b - a));
  });

  it('shows a shadow or canary stage while it runs, and none once it ended', async () => {
    const p = await proxy();
    const data = async () => ((await (await fetch(`${p.url}/dashboard/data`)).json()) as DashboardSnapshot).release;
    expect(await data()).toBeNull();
    const shadow = await shadowStage(p.url);
    // Until the shadow has more than 20 mirrored requests, not for a fixed time: a loaded machine may send few in 700 ms.
    const load = underLoad(p.url, 4);
    const mirrored = async () => ((await data())?.candidate.requests ?? 0) > 20;
    await pollUntil(10_000, mirrored, () => {}).finally(async () => expect((await load.stop()).failures).toEqual([]));
    expect(await data()).toMatchObject({
      mode: 'shadow',
      candidate_url: shadow.url,
      share: 1,
      champion: { requests: expect.any(Number), errors: 0 },
      candidate: { errors: 0 },
      agreement: 1,
    });
    expect((await data())!.candidate.requests).toBeGreaterThan(20);
    await (await fetch(`${p.url}/release`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })).arrayBuffer();
    expect(await data()).toBeNull();
  });

  it('lists the last runs with their gate decisions from the run ledger', async () => {
    const runs = await recentRuns(join(config.workdir, 'runs'));
    expect(runs).toEqual([
      expect.objectContaining({
        runId: 'batch',
        kind: 'predict',
        status: 'succeeded',
        batch: { asOf: '2010-01-01', version: 'v1', scored: 344, quarantined: 0, sink: join(root, 'batches', 'as_of=2010-01-01.parquet') },
      }),
      expect.objectContaining({
        runId: 'dashboard',
        kind: 'train',
        status: 'succeeded',
        version: 'v1',
        gate: expect.objectContaining({ blessed: true }),
      }),
    ]);
    expect(runs[1]!.gate!.verdict).toBe('PASSED');
    expect(runs[1]!.gate!.details.some((line) => line.includes('accuracy (all)'))).toBe(true);
    expect(await recentRuns(join(root, 'no-such-workdir', 'runs'))).toEqual([]);
  });

  it('streams a snapshot, then each sample as it is taken, and ends the stream when the proxy closes', async () => {
    const p = await proxy();
    const res = await fetch(`${p.url}/dashboard/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const stream = events(res.body!);
    const first = (await stream.next()).value!;
    expect(first.event).toBe('snapshot');
    expect(JSON.parse(first.data)).toMatchObject({ intervalMs: 200, backends: [{ id: 'a' }] });
    const next = (await stream.next()).value!;
    expect(next.event).toBe('sample');
    expect(JSON.parse(next.data)).toMatchObject({ sample: { t: expect.any(Number) }, backends: [{ id: 'a' }], runs: { available: false } });
    await opened.pop()!.close();
    for await (const _ of stream); // the stream ends: a closing proxy is not held open by a dashboard
  });

  it(`holds at most ${MAX_EVENT_STREAMS} event streams open, and tells the next one to poll instead`, async () => {
    const p = await proxy();
    // Aborted rather than cancelled: undici would keep a cancelled stream's connection for reuse.
    const pages = new AbortController();
    const streams = await Promise.all(
      Array.from({ length: MAX_EVENT_STREAMS }, () => fetch(`${p.url}/dashboard/events`, { signal: pages.signal })),
    );
    expect(streams.map((s) => s.status)).toEqual(Array(MAX_EVENT_STREAMS).fill(200));
    const refused = await fetch(`${p.url}/dashboard/events`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: `${MAX_EVENT_STREAMS} dashboards are open already: close one, or poll /dashboard/data` });
    pages.abort();
    // Freed as the proxy notices each page gone.
    const status = async () => {
      const page = new AbortController();
      const res = await fetch(`${p.url}/dashboard/events`, { signal: page.signal });
      page.abort();
      return res.status;
    };
    await expect.poll(status).toBe(200);
  });

  it('embeds the current page and uPlot: run `npm run build:dashboard` after changing serving/dashboard/page.*', async () => {
    expect(await readFile(target, 'utf8')).toBe(await embeddedAssets());
  });
});

/** What each chart draws: its series and how many points each has, read from the uPlot instances. */
const chartsOf = (page: Page) =>
  page.evaluate(() =>
    Object.fromEntries(
      Object.entries((globalThis as any).dashboard.charts).map(([id, u]: [string, any]) => [
        id,
        {
          series: u.series.slice(1).map((s: any) => s.label),
          points: u.data.slice(1).map((column: (number | null)[]) => column.filter((v) => v !== null).length),
        },
      ]),
    ),
  );

/** Pixels of a chart's canvas in its first series' colour: the line was drawn, not just the axes. */
const strokePixels = (page: Page, id: string) =>
  page.evaluate((id) => {
    const u = (globalThis as any).dashboard.charts[id];
    const [r, g, b] = u.series[1]
      .stroke()
      .match(/[0-9a-f]{2}/gi)
      .map((h: string) => parseInt(h, 16));
    const { data } = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++;
    return n;
  }, id);

describe.runIf(chromiumInstalled())('the dashboard in headless Chromium', () => {
  let browser: BrowserContext;
  let closeBrowser: () => Promise<void>;
  beforeAll(async () => {
    ({ browser, close: closeBrowser } = await launchChromium());
  });
  afterAll(() => closeBrowser?.());
  // Closed before the proxies they watch: an open page reconnects its event stream.
  const pages: Page[] = [];
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close()));
  });

  /** A page that records every console error and uncaught exception, CSP violations included. */
  async function open(url: string) {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1400, height: 1200 });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    pages.push(page);
    await page.goto(`${url}/dashboard`);
    return { page, problems };
  }

  it('charts live traffic, latency, errors and drift per feature, with the backends and the last runs', async () => {
    const p = await proxy({ runs: () => recentRuns(join(config.workdir, 'runs')) });
    await traffic(p.url, 1500);
    const features = Object.keys(parseDrift('a', await (await fetch(`${server.url}/metrics`)).text())!.psi).sort();
    expect(features.length).toBeGreaterThanOrEqual(3);

    const load = underLoad(p.url, 2);
    const { page, problems } = await open(p.url);
    await page.waitForFunction(() => (globalThis as any).dashboard.charts.drift !== undefined);
    const charts = await chartsOf(page);
    for (const id of ['share', 'latency', 'errors']) {
      expect(charts[id]!.series, id).toEqual(['a · v1']);
      expect(charts[id]!.points[0], id).toBeGreaterThanOrEqual(3);
      expect(await strokePixels(page, id), id).toBeGreaterThan(50);
    }
    expect(charts.drift!.series).toEqual(features.map((f) => `${f} · v1`));
    expect(charts.drift!.points.every((n: number) => n >= 3)).toBe(true);

    // Progressive: new samples arrive over the event stream and are drawn without a reload.
    const shown = charts.share!.points[0];
    await page.waitForFunction(
      (n) => (globalThis as any).dashboard.charts.share.data[1].filter((v: unknown) => v !== null).length >= n + 3,
      shown,
    );
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/^live · \d+ samples every 0.2 s/);
    expect((await load.stop()).failures).toEqual([]);

    const backend = page.locator('#backends tbody tr');
    await expect.poll(() => backend.count()).toBe(1);
    const cells = await backend.first().locator('td').allInnerTexts();
    expect(cells.slice(0, 5)).toEqual(['a', 'v1', 'healthy', '1', '100.0 %']);
    expect(cells.at(-1)).toBe(server.url);

    await expect.poll(() => page.locator('#importance-title').innerText()).toBe('What the champion v1 relies on');
    const relied = await page.locator('#importance-columns tbody tr').first().locator('td').allInnerTexts();
    expect(relied[0]).toMatch(/^(culmen|flipper|island|body|delta|sex|clutch)/);
    expect(Number(relied[1])).toBeGreaterThan(0);

    const run = await page.locator('#runs tbody tr').first().locator('td').allInnerTexts();
    expect(run).toEqual(['dashboard', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/), 'succeeded', 'PASSED', 'v1', '']);
    const batch = await page.locator('#batches tbody tr').first().locator('td').allInnerTexts();
    expect(batch).toEqual([
      'batch',
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      'succeeded',
      '2010-01-01',
      'v1',
      '344',
      '0',
      join(root, 'batches', 'as_of=2010-01-01.parquet'),
    ]);

    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows a shadow release live: the new server beside the champion, and how often they agree', async () => {
    const p = await proxy();
    const { page, problems } = await open(p.url);
    const section = page.locator('#release');
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/^live/);
    expect(await section.isVisible()).toBe(false);

    const shadow = await shadowStage(p.url);
    const load = underLoad(p.url, 2);
    await expect.poll(() => section.isVisible()).toBe(true);
    await expect
      .poll(() => page.locator('#release-comparison').innerText())
      .toMatch(/agreement with the champion 100\.0 % over [\d,]+ predictions/);
    expect(await page.locator('#release-title').innerText()).toMatch(
      new RegExp(`^shadow release of ${shadow.url}: mirroring 100\\.0 % of predictions, \\d+ s so far$`),
    );
    const rows = await page
      .locator('#release-sides tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r.slice(0, 1))).toEqual([['champion'], ['new (shadow)']]);
    expect(rows.every((r) => Number(r[1]!.replace(/,/g, '')) > 0 && r[2] === '0')).toBe(true);
    expect((await load.stop()).failures).toEqual([]);
    await page.screenshot({ path: 'test-results/dashboard-release.png', fullPage: true });

    await (await fetch(`${p.url}/release`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })).arrayBuffer();
    await expect.poll(() => section.isVisible()).toBe(false);
    expect(problems).toEqual([]);
  });

  it('says so on the page when the proxy has no run ledger', async () => {
    const p = await proxy();
    const { page, problems } = await open(p.url);
    const note = page.locator('#runs-note');
    await expect.poll(() => note.isVisible()).toBe(true);
    expect(await note.innerText()).toMatch(/^this proxy has no run ledger to read/);
    expect(await page.locator('#runs').isVisible()).toBe(false);
    expect(problems).toEqual([]);
  });
});
