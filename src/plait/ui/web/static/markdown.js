// A small Markdown reader for what agents write — headings, lists, quotes, fenced code,
// inline code, bold, italics and http(s) links — building DOM nodes from text, never
// HTML: whatever is not Markdown shows exactly as it was written.

import { el, link } from './dom.js';

const FENCE = /^\s*(```|~~~)/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const ITEM = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
const QUOTE = /^>\s?(.*)$/;
const INLINE = /`([^`\n]+)`|\*\*([^*\n]+)\*\*|\*([^*\s][^*\n]*)\*|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g;

export function markdown(text) {
  const lines = String(text).split('\n');
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
    } else if (FENCE.test(line)) {
      const mark = line.trim().slice(0, 3);
      const body = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(mark); i += 1) body.push(lines[i]);
      i += 1;
      blocks.push(el('pre', { class: 'code' }, el('code', {}, body.join('\n'))));
    } else if (HEADING.test(line)) {
      const [, hashes, title] = line.match(HEADING);
      blocks.push(el('p', { class: `md-h md-h${hashes.length}` }, inline(title)));
      i += 1;
    } else if (ITEM.test(line)) {
      const ordered = /\d/.test(line.match(ITEM)[1]);
      const items = [];
      for (; i < lines.length && ITEM.test(lines[i]); i += 1) items.push(el('li', {}, inline(lines[i].match(ITEM)[2])));
      blocks.push(el(ordered ? 'ol' : 'ul', {}, items));
    } else if (QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i += 1) quoted.push(lines[i].match(QUOTE)[1]);
      blocks.push(el('blockquote', {}, markdown(quoted.join('\n'))));
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i += 1) para.push(lines[i]);
      blocks.push(el('p', {}, inline(para.join('\n'))));
    }
  }
  return blocks;
}

const startsBlock = (line) => FENCE.test(line) || HEADING.test(line) || ITEM.test(line) || QUOTE.test(line);

function inline(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(el('code', {}, m[1]));
    else if (m[2] !== undefined) out.push(el('strong', {}, m[2]));
    else if (m[3] !== undefined) out.push(el('em', {}, m[3]));
    else out.push(link(m[5], m[4]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
