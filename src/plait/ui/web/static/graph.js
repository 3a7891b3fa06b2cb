// The dependency graph: each task in the column after the deepest task it depends on,
// drawn as SVG from text nodes only; a stacked task's edge to its base is dashed.

import { clip, el, replace, svg, taskHref, token } from './dom.js';

const MAX = 400; // tasks drawn; a bigger project shows the ones not landed first
const W = 190; // a task's box
const H = 44;
const GX = 60; // room between columns (for the edges)
const GY = 14;

// `rows`: every task's row in the project's order. Returns the note to show, if any.
export function drawGraph(box, rows, isFinal) {
  let shown = rows;
  let note = '';
  if (rows.length > MAX) {
    const open = rows.filter((r) => !isFinal(r.status));
    shown = (open.length ? open : rows).slice(0, MAX);
    note = `${shown.length} of ${rows.length} tasks drawn (those not landed first).`;
  }
  if (!shown.length) {
    replace(box, el('p', { class: 'muted' }, 'No tasks yet.'));
    return note;
  }
  const columns = layers(shown);
  const at = new Map();
  columns.forEach((col, x) => col.forEach((r, y) => {
    at.set(r.id, { x: 20 + x * (W + GX), y: 20 + y * (H + GY) });
  }));
  const width = 40 + columns.length * (W + GX);
  const height = 40 + Math.max(...columns.map((c) => c.length)) * (H + GY);
  const edges = shown.flatMap((r) => edgesTo(r, at, rows));
  const nodes = shown.map((r) => node(r, at.get(r.id)));
  replace(box, svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' }, edges, nodes));
  return note;
}

function layers(rows) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const depth = new Map();
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0; // a valid plan has no cycle; never loop on one anyway
    seen.add(id);
    const deps = (byId.get(id).depends_on || []).filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => visit(x, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  for (const r of rows) visit(r.id, new Set());
  const columns = [];
  for (const r of rows) (columns[depth.get(r.id)] ||= []).push(r);
  return columns;
}

function edgesTo(row, at, rows) {
  const to = at.get(row.id);
  return (row.depends_on || []).filter((dep) => at.has(dep)).map((dep) => {
    const from = at.get(dep);
    const x1 = from.x + W;
    const y1 = from.y + H / 2;
    const x2 = to.x;
    const y2 = to.y + H / 2;
    const base = rows.find((r) => r.id === dep);
    const stacked = row.base && base && base.branch === row.base;
    return svg('path', {
      d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`,
      class: stacked ? 'edge stacked' : 'edge',
    });
  });
}

function node(row, p) {
  return svg('a', { href: taskHref(row.id), class: `node s-${token(row.status)}`, 'data-task': row.id },
    svg('title', {}, `${row.id}: ${row.title} (${row.status})`),
    svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6 }),
    svg('text', { x: p.x + 8, y: p.y + 18, class: 'id' }, clip(`${row.id} · ${row.status}`, 24)),
    svg('text', { x: p.x + 8, y: p.y + 35, class: 'title' }, clip(row.title, 26)));
}
