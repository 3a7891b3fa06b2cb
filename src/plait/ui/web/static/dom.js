// Building the page from text: every string becomes a text node, never HTML, so what a
// title or an agent says is shown and never run. Links keep only http(s) and in-page
// targets. Plus the number and time formats every view shares.

export const $ = (id) => document.getElementById(id);

// el('a', {href: '#/x', class: 'y', onclick: fn}, 'text', child): strings become text
// nodes; a `href` is kept only when it is a plain http(s) or in-page link.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function svg(tag, props = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setProps(node, props);
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'href') {
      const safe = safeHref(value);
      if (safe) node.setAttribute('href', safe);
    } else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
}

export function safeHref(value) {
  const text = String(value);
  if (text.startsWith('#')) return text;
  try {
    const url = new URL(text, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

// A link when `href` is one a page may follow (an in-page one opens here, another in a
// new tab), else just the text: a local forge's PR ("local:pr/3") has no web page.
export function link(href, text) {
  const safe = href ? safeHref(href) : null;
  if (!safe) return String(text);
  const outside = !safe.startsWith('#');
  return el('a', { href: safe, target: outside ? '_blank' : null, rel: outside ? 'noreferrer' : null }, text);
}

export function replace(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
}

export const token = (word) => String(word || '').toLowerCase().replace(/[^a-z0-9-]/g, '');
export const badge = (status) => el('span', { class: `badge s-${token(status)}` }, status || '');
export const taskHref = (id) => `#/task/${encodeURIComponent(id)}`;

// ---- formatting ----------------------------------------------------------------------
export const fmtInt = (n) => (n ? Number(n).toLocaleString('en-US') : '0');
// Money as plait.core.money.usd writes it: cents from ten cents up ($1.50), else two
// significant digits, at least to the cent ($0.0025, $0.0001), so a cheap turn is not $0.00.
const fixed = (n, places) =>
  n.toLocaleString('en-US', { minimumFractionDigits: places, maximumFractionDigits: places });
export const usd = (value) => {
  const v = Number(value);
  const size = Math.abs(v);
  const places = size >= 0.1 || size === 0 ? 2 : Math.max(2, 1 - Math.floor(Math.log10(size)));
  let text = fixed(size, places);
  if (places > 2) {
    text = text.replace(/0+$/, '');
    if ((text.split('.')[1] || '').length < 2) text = fixed(size, 2);
  }
  return `${v < 0 ? '-' : ''}$${text}`;
};
export const fmtCost = (value) => (value ? usd(value) : '-');

export function fmtDuration(s) {
  s = Math.max(0, Number(s) || 0);
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function fmtBytes(n) {
  if (!n) return '-';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${n}B` : `${n.toFixed(1)}${units[i]}`;
}

export function fmtTime(at) {
  const d = new Date(at * 1000);
  return d.toLocaleTimeString('en-GB', { hour12: false });
}

export const clip = (text, n) => (String(text).length > n ? `${String(text).slice(0, n - 1)}…` : String(text));
