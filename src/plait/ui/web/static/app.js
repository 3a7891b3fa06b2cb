// plait's dashboard: the project's tasks, one task's detail and live transcript, the
// timeline of events and the dependency graph, kept current by the engine's event stream
// (/api/events) and driven through the same JSON API as the CLI and the TUI.
//
// How this works. `model` holds what the API said (rows by task id, in project order).
// An event names the task it is about: that task's row is fetched again (coalesced, so a
// burst of events costs one request per task), and an event that adds tasks reloads the
// list. CPU, memory and time change without events: the rows of tasks whose agent runs
// are polled every few seconds. Every piece of text reaches the page through text nodes
// (`el()` in dom.js); nothing is ever parsed as HTML, so a title or an agent's output is
// shown, never run.

import {
  $, badge, el, fmtBytes, fmtCost, fmtDuration, fmtInt, fmtTime, link, replace, taskHref, token,
} from './dom.js';
import { drawGraph } from './graph.js';
import { markdown } from './markdown.js';

const PAGE = 100; // rows shown at once: the list stays fast with thousands of tasks
const POLL_MS = 2000; // CPU, memory and time of running agents
const WORKERS_MS = 5000; // the workers of a project whose turns run elsewhere (Temporal)
const TRANSCRIPT_MS = 1000; // the open task's transcript while it has not landed
const MANY = 25; // more tasks changed at once than this: one list read, not one per task
const TIMELINE_MAX = 2000; // events kept in the timeline
const FINAL = new Set(['merged', 'done', 'skipped']); // settled: nothing more happens
// Waiting for a person: the server stopped the task's clock where its work stopped.
const HELD = new Set(['failed', 'needs-attention', 'stopped', 'over-budget']);
const RELOAD_EVENTS = new Set(['RunStarted', 'TasksAdded', 'TaskAdopted', 'ConfigChanged']);

const model = {
  project: null,
  rows: new Map(), // id -> row (+ `_at`: when it was read, for the live duration)
  order: [], // ids in the project's order
  sort: { key: '', dir: 1 },
  filter: { status: '', text: '' },
  page: 0,
  view: 'tasks',
  task: null, // the task shown in detail
  detail: null,
  transcript: { task: null, next: 0, loading: false },
  timeline: [],
  seen: new Set(), // timeline keys already shown (the stream and /api/timeline overlap)
  live: false,
};


const agentRunning = (status) => status === 'working' || status === 'starting' ||
  String(status).startsWith('fixing-');

// The time a task has taken, counted on between two reads while it is at work.
function liveDuration(row) {
  const base = Number(row.duration_s) || 0;
  if (FINAL.has(row.status) || HELD.has(row.status) || base <= 0 || row._at === undefined) {
    return base;
  }
  return base + (performance.now() - row._at) / 1000;
}

// ---- the API ---------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message, hint) {
    super(message);
    this.status = status;
    this.hint = hint || '';
  }
}

async function api(path, body) {
  const init = { credentials: 'same-origin', headers: { 'X-Plait': '1' } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let reply;
  try {
    reply = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'the engine does not answer', 'is it still running? `plait web` starts it');
  }
  const data = await reply.json().catch(() => ({}));
  if (reply.status === 401) tokenRefused();
  if (!reply.ok) throw new ApiError(reply.status, data.error || reply.statusText, data.hint);
  return data;
}

const quote = (id) => encodeURIComponent(id);

function tokenRefused() {
  showBanner('This dashboard has no valid token: run `plait web` again and open the URL it prints.');
}

function showBanner(text) {
  const banner = $('banner');
  banner.textContent = text;
  banner.hidden = !text;
}

let toastTimer = 0;
function toast(text, { error = false, hint = '' } = {}) {
  const box = $('toast');
  replace(box, el('span', {}, text), hint ? el('span', { class: 'hint' }, hint) : null);
  box.className = error ? 'error' : '';
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, error ? 9000 : 4000);
}

async function command(path, body, done) {
  try {
    const reply = await api(path, body);
    toast(reply.message || done || 'done');
    return reply;
  } catch (err) {
    toast(err.message, { error: true, hint: err.hint });
    return null;
  }
}

// ---- loading ---------------------------------------------------------------------------
async function loadProject() {
  model.project = await api('/api/project');
  renderHeader();
}

async function loadTasks() {
  const data = await api('/api/tasks');
  const now = performance.now();
  model.rows = new Map(data.tasks.map((r) => [r.id, { ...r, _at: now }]));
  model.order = data.tasks.map((r) => r.id);
  renderTasks();
  if (model.view === 'graph') renderGraph();
}

async function refreshTask(id) {
  let detail;
  try {
    detail = await api(`/api/tasks/${quote(id)}`);
  } catch (err) {
    if (err.status === 404) return scheduleReload();
    throw err;
  }
  if (!model.rows.has(id)) return scheduleReload();
  model.rows.set(id, { ...detail, _at: performance.now() });
  if (model.task === id) {
    model.detail = detail;
    renderDetail();
  }
}

// Rows of tasks whose agent runs: CPU, memory, tokens and time move between events.
async function pollRunning() {
  const words = new Set();
  for (const row of model.rows.values()) if (agentRunning(row.status)) words.add(row.status);
  if (words.size) {
    const data = await api(`/api/tasks?status=${encodeURIComponent([...words].join(','))}`);
    const now = performance.now();
    for (const row of data.tasks) model.rows.set(row.id, { ...row, _at: now });
    // A task that stopped running since is no longer in the answer: read it once more.
    const back = new Set(data.tasks.map((r) => r.id));
    for (const [id, row] of model.rows) if (agentRunning(row.status) && !back.has(id)) want(id);
    renderTasks();
  }
}

async function followTranscript() {
  const row = model.task && model.rows.get(model.task);
  if (row && !FINAL.has(row.status)) await loadTranscript();
}

async function loadTimeline() {
  // The engine's recent history, when it serves one; the stream adds what follows.
  let data;
  try {
    data = await api('/api/timeline?last=500');
  } catch {
    return;
  }
  for (const item of data.entries || []) addTimeline(item, false);
  model.timeline.sort((a, b) => (a.at - b.at) || ((a.seq || 0) - (b.seq || 0)));
  renderTimeline();
}

// ---- live updates ----------------------------------------------------------------------
const pending = { tasks: new Set(), reload: false, project: false, timer: 0 };

function want(id) {
  pending.tasks.add(id);
  flushSoon();
}

function scheduleReload() {
  pending.reload = true;
  flushSoon();
}

function flushSoon() {
  if (!pending.timer) pending.timer = setTimeout(flush, 150);
}

async function flush() {
  const { reload, project } = pending;
  const ids = [...pending.tasks];
  pending.tasks.clear();
  pending.reload = pending.project = false;
  pending.timer = 0;
  try {
    if (reload || ids.length > MANY) await loadTasks();
    else await Promise.all(ids.map(refreshTask));
    if (reload || project || ids.length) await loadProject();
    if (reload && model.task) await refreshTask(model.task);
    if (model.task && ids.includes(model.task)) await loadTranscript();
    renderTasks();
    if (model.view === 'graph') renderGraph();
  } catch (err) {
    if (err.status !== 401) console.warn('refresh failed', err);
  }
}

function onEvent(message) {
  if (message.message) addTimeline(message, true);
  if (RELOAD_EVENTS.has(message.event)) scheduleReload();
  else if (message.task) {
    const row = model.rows.get(message.task);
    if (row && message.status && row.status !== message.status) {
      row.status = message.status; // shown at once; the full row follows
      renderTasks();
    }
    want(message.task);
  } else {
    pending.project = true;
    flushSoon();
  }
}

let source = null;
let retryTimer = 0;

function connect() {
  if (source) source.close();
  source = new EventSource('/api/events');
  source.onopen = () => {
    setLive(true);
    showBanner('');
    // Whatever happened while the stream was away: read it all again.
    scheduleReload();
  };
  source.onmessage = (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch (err) {
      console.warn('bad event', err);
    }
  };
  source.onerror = () => {
    setLive(false);
    if (source.readyState === EventSource.CLOSED) {
      // Refused (401) or the engine is gone: find out which, and try again later.
      api('/api/project').catch((err) => {
        if (err.status !== 401) showBanner('The engine does not answer: start it with `plait web`. Retrying…');
      });
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, 3000);
    }
  };
}

function setLive(on) {
  model.live = on;
  const live = $('live');
  live.textContent = on ? 'live' : 'reconnecting…';
  live.className = on ? 'live on' : 'live off';
}

// ---- the header ------------------------------------------------------------------------
function renderHeader() {
  const p = model.project;
  if (!p) return;
  $('project').textContent = p.project;
  document.title = `plait · ${p.project}`;
  replace($('project-state'), p.state);
  $('project-state').className = `badge s-${token(p.state)}`;
  const counts = Object.entries(p.counts || {}).map(([word, n]) => `${n} ${word}`).join(', ');
  $('totals').textContent = `${p.landed}/${p.tasks} landed · ${counts || 'no tasks'} · ` +
    `${fmtInt(p.turns)} turns · ${fmtInt(p.tokens)} tokens · ${fmtCost(p.cost_usd)} · ` +
    `agent ${p.agent}, forge ${p.forge}`;
  renderStatusFilter();
}

// ---- the workers (a project whose agent turns run on `plait worker`s) -----------------
// Shown only when turns do not run here: where they run, how many workers in each state
// and their slots; when the executor cannot say (its Temporal server is out of reach),
// that and what to check, as `plait workers` says it.
let workersLocal = false;

async function loadWorkers() {
  if (workersLocal) return;
  let view;
  try {
    view = await api('/api/workers');
  } catch (err) {
    return; // the engine away: the banner says so
  }
  if (view.executor === 'local') {
    workersLocal = true;
    return;
  }
  const line = $('workers');
  line.hidden = false;
  if (view.problem) {
    line.className = 'problem';
    line.textContent = `turns on ${view.executor}: ${view.problem.error}` +
      (view.problem.hint ? ` — ${view.problem.hint}` : '');
    return;
  }
  line.className = '';
  const rows = view.workers || [];
  if (!rows.length) {
    line.textContent = `turns on ${view.executor}: no workers — start one with \`plait worker\``;
    return;
  }
  const states = {};
  let slots = 0;
  let busy = 0;
  for (const w of rows) {
    states[w.state] = (states[w.state] || 0) + 1;
    if (w.state === 'running') {
      slots += w.slots;
      busy += w.busy;
    }
  }
  const counted = Object.entries(states).sort().map(([state, n]) => `${n} ${state}`).join(', ');
  const names = rows.map((w) => `${w.name}@${w.host} (${w.state}, ${w.busy}/${w.slots})`).join(' · ');
  line.textContent = `turns on ${view.executor}: ${rows.length} ` +
    `${rows.length === 1 ? 'worker' : 'workers'} (${counted}), ${busy}/${slots} slots busy — ${names}`;
}

function renderStatusFilter() {
  const select = $('status-filter');
  const counts = (model.project && model.project.counts) || {};
  const options = [['', `all (${model.order.length})`], ['active', 'not landed']];
  for (const [word, n] of Object.entries(counts).sort()) options.push([word, `${word} (${n})`]);
  const key = options.map((o) => o.join('=')).join('|');
  if (select.dataset.key === key) return;
  select.dataset.key = key;
  replace(select, options.map(([value, label]) => el('option', { value }, label)));
  select.value = model.filter.status;
}

// ---- the task list ---------------------------------------------------------------------
const COLUMNS = [
  { key: 'id', label: 'task', text: (r) => r.id, href: (r) => taskHref(r.id) },
  { key: 'status', label: 'status', text: (r) => r.status, badge: true },
  { key: 'agent', label: 'agent', text: (r) => (r.model ? `${r.agent} (${r.model})` : r.agent) },
  { key: 'pr', label: 'PR', num: true, text: (r) => (r.pr ? `#${r.pr}` : '-'), href: (r) => r.pr_url },
  { key: 'base', label: 'base', text: (r) => r.base || '' },
  { key: 'queue', label: 'queue', num: true, value: (r) => r.queue.length, text: (r) => r.queue.join(', ') },
  { key: 'ci_failures', label: 'CI fails', num: true, text: (r) => String(r.ci_failures || 0) },
  { key: 'turns', label: 'turns', num: true, text: (r) => String(r.turns) },
  { key: 'tokens', label: 'tokens', num: true, text: (r) => fmtInt(r.tokens) },
  { key: 'cost_usd', label: 'cost', num: true, text: (r) => fmtCost(r.cost_usd) },
  { key: 'duration_s', label: 'time', num: true, value: liveDuration, text: (r) => fmtDuration(liveDuration(r)) },
  { key: 'cpu_percent', label: 'CPU', num: true, text: (r) => (r.cpu_percent === undefined ? '-' : `${Math.round(r.cpu_percent)}%`) },
  { key: 'rss_bytes', label: 'mem', num: true, text: (r) => fmtBytes(r.rss_bytes) },
  { key: 'overlaps', label: 'overlaps', value: (r) => (r.overlaps || []).length, text: overlapsText },
  { key: 'title', label: 'title', text: (r) => r.title },
];

// The early conflict warning in a word: with whom this branch would collide.
function overlapsText(r) {
  return (r.overlaps || []).map((o) => o.with).join(', ');
}

function budgetText(d) {
  const b = d.budget || {};
  const parts = [b.tokens ? `${fmtInt(b.tokens)} tokens` : '', b.dollars ? fmtCost(b.dollars) : ''];
  const limits = parts.filter(Boolean).join(' · ');
  return d.over_budget ? `${limits}${limits ? ' — ' : ''}over: ${d.over_budget}` : limits;
}

function renderHead() {
  replace($('task-head'), COLUMNS.map((col) => {
    const mark = model.sort.key === col.key ? (model.sort.dir > 0 ? ' ▲' : ' ▼') : '';
    return el('th', { class: col.num ? 'num' : null, dataset: { key: col.key } },
      el('button', { type: 'button', class: 'sort', onclick: () => sortBy(col.key) }, col.label + mark));
  }));
}

function sortBy(key) {
  model.sort = model.sort.key === key ? { key, dir: -model.sort.dir } : { key, dir: 1 };
  renderHead();
  renderTasks();
}

function matches(row) {
  const { status, text } = model.filter;
  if (status === 'active' && FINAL.has(row.status)) return false;
  if (status && status !== 'active' && row.status !== status) return false;
  if (!text) return true;
  const needle = text.toLowerCase();
  return [row.id, row.title, row.agent, row.status].some((v) => String(v || '').toLowerCase().includes(needle));
}

function shownRows() {
  let rows = model.order.map((id) => model.rows.get(id)).filter((r) => r && matches(r));
  const col = COLUMNS.find((c) => c.key === model.sort.key);
  if (col) {
    const value = col.value || ((r) => r[col.key]);
    const dir = model.sort.dir;
    rows = rows.map((r, i) => [r, i]).sort(([a, i], [b, j]) => {
      const x = value(a);
      const y = value(b);
      const c = col.num ? (Number(x) || 0) - (Number(y) || 0) : String(x ?? '').localeCompare(String(y ?? ''));
      return c * dir || i - j;
    }).map(([r]) => r);
  }
  return rows;
}

const rowNodes = new Map(); // id -> <tr>, updated in place so clicks are never lost

let renderQueued = false;
function renderTasks() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    drawTasks();
  });
}

function drawTasks() {
  const rows = shownRows();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  model.page = Math.min(model.page, pages - 1);
  const page = rows.slice(model.page * PAGE, (model.page + 1) * PAGE);
  const body = $('task-rows');
  const keep = new Set();
  let before = body.firstChild;
  for (const row of page) {
    let tr = rowNodes.get(row.id);
    if (!tr) {
      tr = el('tr', { dataset: { task: row.id } }, COLUMNS.map((c) => el('td', { class: c.num ? 'num' : null })));
      rowNodes.set(row.id, tr);
    }
    fillRow(tr, row);
    keep.add(row.id);
    if (tr !== before) body.insertBefore(tr, before);
    else before = before.nextSibling;
  }
  for (const [id, tr] of rowNodes) {
    if (!keep.has(id)) {
      tr.remove();
      rowNodes.delete(id);
    }
  }
  $('no-tasks').hidden = model.order.length > 0;
  $('shown').textContent = `${rows.length} shown`;
  $('page').textContent = `page ${model.page + 1} of ${pages}`;
  $('page-prev').disabled = model.page === 0;
  $('page-next').disabled = model.page >= pages - 1;
}

function fillRow(tr, row) {
  tr.dataset.status = row.status;
  tr.classList.toggle('selected', row.id === model.task);
  COLUMNS.forEach((col, i) => {
    const td = tr.cells[i];
    const text = col.text(row) ?? '';
    const href = col.href ? col.href(row) : null;
    const key = `${text}\u0000${href || ''}`;
    if (td.dataset.v === key) return;
    td.dataset.v = key;
    if (col.badge) replace(td, badge(text));
    else replace(td, link(href, text));
  });
}

// ---- one task --------------------------------------------------------------------------
async function openTask(id) {
  if (model.task !== id) {
    model.task = id;
    model.detail = null;
    model.transcript = { task: id, next: 0, loading: false };
    replace($('transcript'));
    replace($('task-facts'));
    $('send-text').value = '';
  }
  showView('task');
  try {
    await refreshTask(id);
    await loadTranscript();
  } catch (err) {
    toast(err.message, { error: true, hint: err.hint });
  }
}

function fact(label, ...value) {
  const shown = value.flat(Infinity).filter((v) => v !== null && v !== undefined && v !== '');
  if (!shown.length) return [];
  return [el('dt', {}, label), el('dd', { dataset: { fact: label } }, shown)];
}

function renderDetail() {
  const d = model.detail;
  if (!d) return;
  const row = model.rows.get(d.id) || d;
  $('task-id').textContent = d.id;
  $('task-title').textContent = d.title;
  replace($('task-status'), d.status);
  $('task-status').className = `badge s-${token(d.status)}`;
  const final = FINAL.has(d.status);
  for (const id of ['kill', 'retry', 'reset', 'reset-hard', 'send']) $(id).disabled = final;
  $('kill').disabled = final || d.status === 'stopped';
  const pr = d.pr ? link(d.pr_url, `#${d.pr}`) : null;
  const checks = d.checks ? `CI ${d.checks.ci}${d.checks.mergeable === false ? ', conflicting' : ''}` : '';
  const deps = d.depends_on.map((dep, i) => [i ? ', ' : '', el('a', { href: taskHref(dep) }, dep)]);
  replace($('task-facts'), [
    fact('agent', d.model ? `${d.agent} (${d.model})` : d.agent),
    fact('landing', d.landing),
    fact('plan', d.plan),
    fact('origin', d.origin),
    fact('branch', d.branch),
    fact('base', d.base_branch, d.stacked_on ? ` (stacked on ${d.stacked_on})` : ''),
    fact('worktree', d.worktree),
    fact('PR', pr, d.pr_state ? ` ${d.pr_state}${d.pr_draft ? ', draft' : ''}` : ''),
    fact('checks', checks, d.checks && d.checks.evidence ? ` — ${d.checks.evidence}` : ''),
    fact('depends on', deps),
    fact('doing', d.current, d.step ? ` (${d.step})` : ''),
    fact('queue', d.queue.join(', ')),
    fact('turns', String(d.turns)),
    fact('tokens', `${fmtInt(d.tokens)} (${fmtInt(d.input_tokens)} in, ${fmtInt(d.output_tokens)} out)`),
    fact('cost', fmtCost(d.cost_usd)),
    fact('time', fmtDuration(liveDuration(row))),
    fact('CPU / memory', row.cpu_percent === undefined ? '' : `${Math.round(row.cpu_percent)}% / ${fmtBytes(row.rss_bytes)}`),
    fact('failures', Object.entries(d.counters).filter(([, n]) => n).map(([k, n]) => `${k.replace('_failures', '')} ${n}`).join(', ')),
    fact('needs', d.attention),
    fact('budget', budgetText(d)),
    fact('would conflict', (d.overlaps || []).map((o) => `with ${o.with}: ${o.paths.join(', ')}`).join('; ')),
    fact('risk', d.risk, d.risk_reason ? ` (${d.risk_reason})` : ''),
    fact('classes by path', (d.path_classes || []).join(', ')),
    fact('held back by', d.held_by),
    fact('waits for', d.waits_for !== d.over_budget ? d.waits_for : null),
    fact('last error', d.last_error),
    fact('merged as', d.merge_sha),
    fact('answer', d.answer ? el('div', { class: 'md' }, markdown(d.answer)) : null),
  ]);
  $('task-description').textContent = d.description || '(no description)';
  replace($('task-threads'), d.threads.length ? [
    el('h3', {}, 'Review threads'),
    el('ul', {}, d.threads.map((t) => el('li', {},
      el('strong', {}, t.author || 'someone'), t.path ? ` on ${t.path}${t.line ? `:${t.line}` : ''}` : '',
      el('pre', { class: 'text' }, t.body)))),
  ] : []);
}

async function loadTranscript() {
  const t = model.transcript;
  if (!t.task || t.loading) return;
  t.loading = true;
  try {
    for (;;) {
      const page = await api(`/api/tasks/${quote(t.task)}/transcript?after=${t.next}&limit=500`);
      if (model.transcript !== t) return; // another task was opened meanwhile
      appendTranscript(page.entries);
      t.next = page.next;
      if (page.entries.length < 500) break;
    }
  } finally {
    t.loading = false;
  }
}

function appendTranscript(entries) {
  const box = $('transcript');
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  for (const entry of entries) {
    if (entry.line === null || entry.line === undefined) continue;
    const text = entry.kind === 'TextOut' ? markdown(entry.line) : entry.line;
    box.append(el('div', { class: `line k-${token(entry.kind)}`, title: fmtTime(entry.at) }, text));
  }
  if (entries.length && $('follow').checked && (atEnd || box.childElementCount <= entries.length)) {
    box.scrollTop = box.scrollHeight;
  }
}

// ---- timeline --------------------------------------------------------------------------
function addTimeline(item, live) {
  if (!item || !item.message) return;
  const key = `${item.seq ?? ''}|${item.at}|${item.task ?? ''}|${item.message}`;
  if (model.seen.has(key)) return;
  model.seen.add(key);
  model.timeline.push(item);
  if (model.timeline.length > TIMELINE_MAX) {
    model.timeline.splice(0, model.timeline.length - TIMELINE_MAX);
  }
  if (live && model.view === 'timeline') renderTimeline();
}

function renderTimeline() {
  const needle = $('timeline-filter').value.toLowerCase();
  const items = model.timeline.filter((m) => !needle ||
    String(m.task || '').toLowerCase().includes(needle) || String(m.message).toLowerCase().includes(needle));
  replace($('timeline-rows'), items.slice(-500).reverse().map((m) => el('tr', {},
    el('td', {}, fmtTime(m.at)),
    el('td', {}, m.task ? el('a', { href: taskHref(m.task) }, m.task) : ''),
    el('td', {}, m.event || ''),
    el('td', {}, m.status ? badge(m.status) : ''),
    el('td', {}, m.message))));
}

function renderGraph() {
  const rows = model.order.map((id) => model.rows.get(id)).filter(Boolean);
  $('graph-note').textContent = drawGraph($('graph'), rows, (status) => FINAL.has(status));
}

// ---- views and routes ------------------------------------------------------------------
function showView(view) {
  model.view = view;
  for (const section of document.querySelectorAll('main > section')) {
    section.hidden = section.dataset.view !== view;
  }
  for (const link of document.querySelectorAll('nav a')) {
    link.classList.toggle('current', link.dataset.view === view || (view === 'task' && link.dataset.view === 'tasks'));
  }
  if (view === 'timeline') renderTimeline();
  if (view === 'graph') renderGraph();
}

function route() {
  const hash = location.hash || '#/';
  if (hash.startsWith('#/task/')) {
    openTask(decodeURIComponent(hash.slice('#/task/'.length)));
    return;
  }
  model.task = null;
  model.transcript = { task: null, next: 0, loading: false };
  showView(hash === '#/timeline' ? 'timeline' : hash === '#/graph' ? 'graph' : 'tasks');
  renderTasks();
}

// ---- commands --------------------------------------------------------------------------
function taskCommand(verb, body = {}) {
  const id = model.task;
  if (!id) return;
  return command(`/api/tasks/${quote(id)}/${verb}`, body).then(() => want(id));
}

async function broadcast(text) {
  const reply = await command('/api/broadcast', { text });
  if (reply) for (const row of reply.tasks || []) want(row.id);
  return reply !== null;
}

function wire() {
  $('kill').onclick = () => taskCommand('kill', { reason: 'stopped from the dashboard' });
  $('retry').onclick = () => taskCommand('retry');
  $('reset').onclick = () => taskCommand('reset');
  $('reset-hard').onclick = () => {
    if (confirm(`Drop ${model.task}'s branch, worktree and PR and start it over from main?`)) {
      taskCommand('reset', { hard: true });
    }
  };
  $('send-form').onsubmit = async (e) => {
    e.preventDefault();
    const text = $('send-text').value;
    if (await command(`/api/tasks/${quote(model.task)}/send`, { text })) $('send-text').value = '';
    want(model.task);
  };
  $('status-filter').onchange = (e) => { model.filter.status = e.target.value; model.page = 0; renderTasks(); };
  $('text-filter').oninput = (e) => { model.filter.text = e.target.value; model.page = 0; renderTasks(); };
  $('page-prev').onclick = () => { model.page -= 1; renderTasks(); };
  $('page-next').onclick = () => { model.page += 1; renderTasks(); };
  $('timeline-filter').oninput = renderTimeline;
  $('task-rows').onclick = (e) => {
    const tr = e.target.closest('tr');
    if (tr && !e.target.closest('a')) location.hash = taskHref(tr.dataset.task);
  };
  for (const dialog of document.querySelectorAll('dialog')) {
    for (const close of dialog.querySelectorAll('.close')) close.onclick = () => dialog.close();
  }
  $('add-open').onclick = () => $('add-dialog').showModal();
  $('broadcast-open').onclick = () => $('broadcast-dialog').showModal();
  $('add-form').onsubmit = async (e) => {
    e.preventDefault();
    const fields = {
      title: $('add-title').value,
      body: $('add-body').value,
      after: $('add-after').value.split(',').map((s) => s.trim()).filter(Boolean),
      landing: $('add-landing').value,
      origin: 'web',
    };
    if ($('add-agent').value.trim()) fields.agent = $('add-agent').value.trim();
    if (await command('/api/tasks', fields)) {
      $('add-dialog').close();
      $('add-form').reset();
      scheduleReload();
    }
  };
  $('broadcast-form').onsubmit = async (e) => {
    e.preventDefault();
    if (await broadcast($('broadcast-text').value)) {
      $('broadcast-dialog').close();
      $('broadcast-form').reset();
    }
  };
  window.addEventListener('hashchange', route);
}

async function start() {
  wire();
  renderHead();
  try {
    await loadProject();
    await loadTasks();
  } catch (err) {
    if (err.status !== 401) showBanner(`${err.message}${err.hint ? ` — ${err.hint}` : ''}`);
  }
  route();
  loadTimeline();
  connect();
  setInterval(() => pollRunning().catch(() => null), POLL_MS);
  loadWorkers();
  setInterval(() => loadWorkers(), WORKERS_MS);
  setInterval(() => followTranscript().catch(() => null), TRANSCRIPT_MS);
  setInterval(() => {
    // Time moves on for unfinished tasks between reads.
    if (model.view === 'tasks') drawTasks();
  }, 1000);
}

start();
