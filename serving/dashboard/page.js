/* global document, window, fetch, EventSource, ResizeObserver, setTimeout, uPlot */
// The dashboard page: one snapshot of the proxy's history, then each new sample as the proxy takes
// it (server-sent events; polling /dashboard/data where a stream cannot be had). Text goes into the
// page through textContent only: backend names, urls and errors are data, never markup.

const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#953800', '#57606a', '#0550ae'];
const CHART_HEIGHT = 220;

const state = {
  intervalMs: 5000,
  historyMs: 3600000,
  samples: [],
  backends: [],
  runs: { available: false, reason: 'loading' },
  release: null,
  importance: null,
};
/** The charts by figure id, for the browser console and the browser test. */
const charts = {};
window.dashboard = { charts, state };

const seriesName = (backend, version) => (backend === 'none' ? 'no server' : `${backend} · ${version}`);
const percent = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);
const fixed = (digits) => (_u, v) => (v === null || v === undefined ? '–' : v.toFixed(digits));

/**
 * Aligned columns for uPlot: the sample times and one column per series name, null where a series
 * has no point. `points(sample)` yields [name, value] pairs.
 */
function columns(points) {
  const names = new Set();
  const rows = state.samples.map((s) => {
    const row = new Map(points(s));
    for (const name of row.keys()) names.add(name);
    return row;
  });
  const sorted = [...names].sort();
  return {
    names: sorted,
    data: [state.samples.map((s) => s.t / 1000), ...sorted.map((name) => rows.map((row) => row.get(name) ?? null))],
  };
}

const share = (s) => {
  const total = s.traffic.reduce((sum, p) => sum + p.rps, 0);
  return s.traffic.map((p) => [seriesName(p.backend, p.version), total ? (p.rps / total) * 100 : null]);
};
const latency = (s) => s.traffic.map((p) => [seriesName(p.backend, p.version), p.p95Ms]);
const errors = (s) => s.traffic.map((p) => [seriesName(p.backend, p.version), p.errorRate * 100]);
/** Servers of one version each measure their own window: the chart shows the worst. */
const drift = (s) => {
  const worst = new Map();
  for (const d of s.drift)
    for (const [feature, psi] of Object.entries(d.psi)) {
      const name = `${feature} · ${d.version}`;
      worst.set(name, Math.max(worst.get(name) ?? 0, psi));
    }
  return worst;
};

/** Each chart's y range from its data's maximum: from 0, with room above, and 0–1 % for no errors at all. */
const upTo = (floor) => (_u, _min, max) => [0, Math.max((max ?? 0) * 1.1, floor)];
const figures = [
  { id: 'share', points: share, digits: 1, range: () => [0, 100] },
  { id: 'latency', points: latency, digits: 2, range: upTo(0.1) },
  { id: 'errors', points: errors, digits: 2, range: upTo(1) },
  { id: 'drift', points: drift, digits: 3, range: upTo(0.25) },
];

/** Draws one chart, made anew only when its set of series changes: otherwise its data is swapped in place. */
function draw({ id, points, digits, range }) {
  const figure = document.getElementById(id);
  const { names, data } = columns(points);
  const chart = charts[id];
  const same = chart && chart.series.length === names.length + 1 && names.every((n, i) => chart.series[i + 1].label === n);
  if (same) return chart.setData(data);
  chart?.destroy();
  charts[id] = new uPlot(
    {
      width: Math.max(figure.clientWidth - 16, 300),
      height: CHART_HEIGHT,
      scales: { x: { time: true }, y: { range } },
      series: [{}, ...names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, value: fixed(digits) }))],
      axes: [{}, { size: 60 }],
    },
    data,
    figure,
  );
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Share and rate per backend and version over the last minute of samples. */
function recentTraffic() {
  const since = (state.samples.at(-1)?.t ?? 0) - 60000;
  const rps = new Map();
  let total = 0;
  let n = 0;
  for (const s of state.samples)
    if (s.t > since) {
      n++;
      for (const p of s.traffic) {
        const name = seriesName(p.backend, p.version);
        rps.set(name, (rps.get(name) ?? 0) + p.rps);
        total += p.rps;
      }
    }
  return { share: (name) => (total ? (rps.get(name) ?? 0) / total : null), rps: (name) => (n ? (rps.get(name) ?? 0) / n : null) };
}

function renderBackends() {
  const body = document.querySelector('#backends tbody');
  body.replaceChildren();
  const traffic = recentTraffic();
  const drifts = new Map((state.samples.at(-1)?.drift ?? []).map((d) => [d.backend, d]));
  if (state.backends.length === 0)
    cell(body.insertRow(), 'no backends: register one with PUT /backends/:id, or run with --docker').colSpan = 9;
  for (const b of state.backends) {
    const row = body.insertRow();
    const name = seriesName(b.id, b.version);
    cell(row, b.id);
    cell(row, b.version);
    const health = cell(row, b.healthy ? 'healthy' : 'out of rotation', b.healthy ? 'healthy' : 'unhealthy');
    if (b.last_error) health.title = b.last_error;
    cell(row, String(b.weight), 'num');
    cell(row, percent(traffic.share(name)), 'num');
    cell(row, traffic.rps(name)?.toFixed(1) ?? '–', 'num');
    cell(row, percent(drifts.get(b.id)?.outlierRate), 'num');
    cell(row, b.requests.toLocaleString('en-US'), 'num');
    cell(row, b.url);
  }
}

/** A shadow or canary stage in progress: the new server beside the champion, as the proxy measured them so far. */
function renderRelease() {
  const section = document.getElementById('release');
  const r = state.release;
  section.hidden = !r;
  if (!r) return;
  const what = r.mode === 'shadow' ? `mirroring ${percent(r.share)} of predictions` : `sending it ${percent(r.share)} of predictions`;
  document.getElementById('release-title').textContent =
    `${r.mode} release of ${r.candidate_url}: ${what}, ${Math.round(r.seconds)} s so far`;
  const body = document.querySelector('#release-sides tbody');
  body.replaceChildren();
  const ms = (v) => (v === null ? '–' : v.toFixed(2));
  for (const [name, side] of [
    ['champion', r.champion],
    [`new (${r.mode})`, r.candidate],
  ]) {
    const row = body.insertRow();
    cell(row, name);
    cell(row, side.requests.toLocaleString('en-US'), 'num');
    cell(row, side.errors.toLocaleString('en-US'), 'num');
    cell(row, percent(side.requests ? side.errors / side.requests : null), 'num');
    cell(row, ms(side.p50_ms), 'num');
    cell(row, ms(side.p99_ms), 'num');
  }
  const ratio = r.candidate.p99_ms !== null && r.champion.p99_ms ? `${(r.candidate.p99_ms / r.champion.p99_ms).toFixed(2)}×` : '–';
  const compared =
    r.agreement !== null
      ? `agreement with the champion ${percent(r.agreement)} over ${r.pairs.toLocaleString('en-US')} predictions`
      : r.mean_abs_diff !== null
        ? `mean absolute difference from the champion ${r.mean_abs_diff} over ${r.pairs.toLocaleString('en-US')} predictions`
        : 'answers not compared (a canary answers in place of the champion)';
  document.getElementById('release-comparison').textContent = `p99 ratio to the champion ${ratio} · ${compared}`;
}

/** The champion's permutation importance, from its model card: a bar per column, most relied on first. */
function renderImportance() {
  const section = document.getElementById('importance');
  const c = state.importance;
  section.hidden = !c;
  if (!c) return;
  const { metric, score, rows, repeats, columns } = c.importance;
  document.getElementById('importance-title').textContent = `What the champion ${c.version} relies on`;
  document.getElementById('importance-note').textContent =
    `The drop in ${metric} (${score.toFixed(4)} on ${rows.toLocaleString('en-US')} test rows) when one column's values are shuffled, mean of ${repeats} seeded shuffles.`;
  const body = document.querySelector('#importance-columns tbody');
  body.replaceChildren();
  const top = Math.max(...columns.map((col) => col.drop), 0);
  for (const col of columns) {
    const row = body.insertRow();
    cell(row, col.column);
    cell(row, col.drop === null ? '–' : col.drop.toFixed(4), 'num');
    cell(row, col.std === null ? '–' : col.std.toFixed(4), 'num');
    const bar = document.createElement('meter');
    bar.min = 0;
    bar.max = top || 1;
    bar.value = Math.max(0, col.drop ?? 0);
    bar.title = `${col.column}: ${metric} drop ${col.drop}`;
    row.insertCell().append(bar);
  }
}

function renderRuns() {
  const note = document.getElementById('runs-note');
  const table = document.getElementById('runs');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  note.hidden = state.runs.available;
  table.hidden = !state.runs.available;
  if (!state.runs.available) return (note.textContent = state.runs.reason);
  const training = state.runs.runs.filter((r) => r.kind !== 'predict');
  if (training.length === 0) cell(body.insertRow(), 'no runs yet: start one with `mlops run`').colSpan = 6;
  for (const r of training) {
    const row = body.insertRow();
    cell(row, r.runId);
    cell(row, r.startedAt.slice(0, 19).replace('T', ' '));
    cell(row, r.status, r.status);
    const gate = cell(row, r.gate?.verdict ?? '–', r.gate ? (r.gate.blessed ? 'succeeded' : 'rejected') : undefined);
    if (r.gate) gate.title = r.gate.details.join('\n');
    cell(row, r.version ?? '–');
    cell(row, r.failure ? `${r.failure.step}: ${r.failure.errorClass}: ${r.failure.message}` : '', 'detail');
  }
}

/** Batch scoring runs (`mlops predict`): the day, the version, the rows and where they went. */
function renderBatches() {
  const table = document.getElementById('batches');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  table.hidden = !state.runs.available;
  if (!state.runs.available) return;
  const batches = state.runs.runs.filter((r) => r.kind === 'predict');
  if (batches.length === 0) cell(body.insertRow(), 'no batch runs yet: score one with `mlops predict`').colSpan = 8;
  const n = (v) => (v === undefined ? '–' : v.toLocaleString('en-US'));
  for (const r of batches) {
    const row = body.insertRow();
    cell(row, r.runId);
    cell(row, r.startedAt.slice(0, 19).replace('T', ' '));
    cell(row, r.status, r.status);
    cell(row, r.batch?.asOf ?? '–');
    cell(row, r.batch?.version ?? '–');
    cell(row, n(r.batch?.scored));
    cell(row, n(r.batch?.quarantined));
    cell(row, r.failure ? `${r.failure.step}: ${r.failure.errorClass}: ${r.failure.message}` : (r.batch?.sink ?? '–'), 'detail');
  }
}

function render(live) {
  for (const f of figures) draw(f);
  renderBackends();
  renderRelease();
  renderImportance();
  renderRuns();
  renderBatches();
  const status = document.getElementById('status');
  const last = state.samples.at(-1);
  status.textContent = `${live} · ${state.samples.length} samples every ${state.intervalMs / 1000} s${last ? ` · last ${new Date(last.t).toLocaleTimeString()}` : ' · first sample soon'}`;
  status.className = live === 'live' ? '' : 'stale';
}

function take(snapshot) {
  Object.assign(state, snapshot);
}

function add({ sample, backends, runs, release, importance }) {
  state.samples.push(sample);
  // The same bound as the proxy's history.
  const keep = Math.round(state.historyMs / state.intervalMs);
  if (state.samples.length > keep) state.samples.splice(0, state.samples.length - keep);
  Object.assign(state, { backends, runs, release, importance });
}

async function poll() {
  try {
    const res = await fetch('/dashboard/data', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/dashboard/data answered ${res.status}`);
    take(await res.json());
    render('polling');
  } catch (err) {
    document.getElementById('status').textContent = `cannot reach the proxy (${err.message}); retrying`;
  }
  setTimeout(poll, state.intervalMs);
}

function stream() {
  const events = new EventSource('/dashboard/events');
  events.addEventListener('snapshot', (e) => {
    take(JSON.parse(e.data));
    render('live');
  });
  events.addEventListener('sample', (e) => {
    add(JSON.parse(e.data));
    render('live');
  });
  events.onerror = () => {
    // A refused stream (too many open) is closed for good: poll instead. Otherwise the browser reconnects.
    if (events.readyState === EventSource.CLOSED) void poll();
    else render('reconnecting');
  };
}

new ResizeObserver(() => {
  for (const { id } of figures)
    charts[id]?.setSize({ width: Math.max(document.getElementById(id).clientWidth - 16, 300), height: CHART_HEIGHT });
}).observe(document.querySelector('.charts'));

if ('EventSource' in window) stream();
else void poll();
