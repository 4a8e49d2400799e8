// dom.js: small DOM helpers. Text from mail is only ever set as text
// (textContent, attribute values), never parsed as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// icon returns an inline SVG icon from a small built-in set (paths from
// simple 24px strokes), so the UI needs no icon font or image requests.
const ICONS = {
  inbox: 'M3 13h5l2 3h4l2-3h5M5 5h14l2 8v6H3v-6z',
  send: 'M4 12l16-8-6 16-2-7z',
  draft: 'M4 20h4L19 9l-4-4L4 16zM14 6l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  junk: 'M12 3l9 16H3zM12 10v4M12 17v.5',
  archive: 'M3 5h18v4H3zM5 9v10h14V9M10 13h4',
  folder: 'M3 6h6l2 2h10v11H3z',
  star: 'M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1L3.2 9.5l6.1-.9z',
  reply: 'M10 8V4l-7 7 7 7v-4c5 0 8 1 11 5-1-6-4-11-11-11z',
  replyAll: 'M13 8V4l-7 7 7 7v-4c4 0 7 1 9 5-1-6-3-11-9-11zM7 4l-6 7 6 7',
  forward: 'M14 8V4l7 7-7 7v-4c-5 0-8 1-11 5 1-6 4-11 11-11z',
  mail: 'M3 5h18v14H3zM3 6l9 7 9-7',
  mailOpen: 'M3 10l9-6 9 6v10H3zM3 10l9 6 9-6',
  clip: 'M16 7l-7 7a2 2 0 003 3l7-7a4 4 0 00-6-6l-7 7a6 6 0 008 8l6-6',
  search: 'M11 4a7 7 0 100 14 7 7 0 000-14zM21 21l-5-5',
  plus: 'M12 5v14M5 12h14',
  back: 'M15 5l-7 7 7 7',
  menu: 'M4 6h16M4 12h16M4 18h16',
  close: 'M6 6l12 12M18 6L6 18',
  move: 'M3 6h6l2 2h10v11H3zM10 14h6M13 11l3 3-3 3',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  edit: 'M4 20h4L19 9l-4-4L4 16z',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  phone: 'M8 3h8a1 1 0 011 1v16a1 1 0 01-1 1H8a1 1 0 01-1-1V4a1 1 0 011-1zM11 18h2',
};

export function icon(name, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', ICONS[name] || '');
  svg.append(p);
  if (!label) return svg;
  return [svg, h('span', { class: 'label' }, label)];
}

export function formatDate(iso, long) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const now = new Date();
  if (long) {
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
  if (d.toDateString() === now.toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  if (d.getFullYear() === now.getFullYear()) {
    return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  }
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function addrText(a) {
  return a.name ? `${a.name} <${a.email}>` : a.email;
}

export function addrShort(list) {
  if (!list || list.length === 0) return '(unknown)';
  return list.map((a) => a.name || a.email).join(', ');
}

// linkify renders plain text with http(s) URLs as links and quoted lines
// marked, as DOM nodes.
export function plainText(text) {
  const out = h('div', { class: 'text-body' });
  const urlRE = /\bhttps?:\/\/[^\s<>"')\]]+/g;
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const row = h('div', { class: /^\s*>/.test(line) ? 'quote' : null });
    let last = 0;
    for (const m of line.matchAll(urlRE)) {
      row.append(line.slice(last, m.index));
      row.append(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[0]));
      last = m.index + m[0].length;
    }
    row.append(line.slice(last) || '\u200b');
    out.append(row);
  }
  return out;
}
