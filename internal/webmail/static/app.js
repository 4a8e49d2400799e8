// app.js: the Gannet webmail single-page app. State lives here; the server
// is the source of truth and pushes changes over /api/events.
import * as api from './api.js';
import { h, icon, formatDate, formatSize, addrShort, addrText, plainText } from './dom.js';
import { openCompose, composeOpen } from './compose.js';

const state = {
  me: null,          // {address, csrf}
  mailboxes: [],     // [{id, name, specialUse, messages, unseen}]
  mailbox: null,     // current mailbox id
  messages: [],      // loaded summaries, newest first
  next: 0,           // cursor of the next page, 0 = end
  total: 0,
  loading: false,
  selected: new Set(), // checked UIDs
  open: null,        // the open message (full view) or null
  query: '',
  searchIn: 'all',
  remote: new Set(), // "mid:uid" of messages whose remote images the user allowed
  events: null,
  live: 'connecting',
};

const $app = document.getElementById('app');
let listSeq = 0; // drops answers of superseded list loads

// ---------- toast ----------
let toastTimer = 0;
function toast(msg, isError) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.className = 'show' + (isError ? ' error' : '');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = ''; }, 4000);
}
function fail(e) { toast(e.message || String(e), true); }

// ---------- login ----------
function showLogin(message) {
  closeEvents();
  state.me = null;
  document.body.className = 'login-page';
  const err = h('p', { class: 'login-error', role: 'alert' }, message || '');
  const addr = h('input', { type: 'email', name: 'address', id: 'login-address', autocomplete: 'username', required: true, placeholder: 'you@example.org' });
  const pw = h('input', { type: 'password', name: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'login-card', onsubmit: async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      const me = await api.post('/api/login', { address: addr.value, password: pw.value });
      start(me);
    } catch (e) {
      err.textContent = e.message;
      btn.disabled = false;
      pw.select();
    }
  } },
    h('div', { class: 'brand big' }, h('span', { class: 'logo' }, 'G'), 'Gannet Mail'),
    h('label', {}, 'Email address', addr),
    h('label', {}, 'Password', pw),
    err, btn);
  $app.replaceChildren(form);
  addr.focus();
}

api.setUnauthorizedHandler(() => showLogin('Your session has ended. Please sign in again.'));

async function logout() {
  try { await api.post('/api/logout'); } catch (e) { /* signed out anyway */ }
  state.me = null;
  location.hash = '';
  showLogin();
}

// ---------- shell ----------
let $folders, $list, $listHead, $reader, $status, $search;

function buildShell() {
  document.body.className = 'view-list';
  $search = h('input', { type: 'search', id: 'search', placeholder: 'Search mail', 'aria-label': 'Search mail', value: state.query });
  const searchIn = h('select', { id: 'search-in', 'aria-label': 'Search in' },
    h('option', { value: 'all' }, 'All'), h('option', { value: 'from' }, 'From'),
    h('option', { value: 'subject' }, 'Subject'), h('option', { value: 'body' }, 'Body'));
  searchIn.value = state.searchIn;
  const searchForm = h('form', { class: 'search', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    state.query = $search.value.trim();
    state.searchIn = searchIn.value;
    loadList(true);
  } }, icon('search'), $search, searchIn);
  $search.addEventListener('search', () => { if ($search.value === '' && state.query) { state.query = ''; loadList(true); } });
  $status = h('span', { class: 'live', title: 'Live updates' });
  const top = h('header', { class: 'topbar' },
    h('button', { class: 'icon-btn menu-btn', 'aria-label': 'Folders', onclick: () => document.body.classList.toggle('drawer') }, icon('menu')),
    h('div', { class: 'brand' }, h('span', { class: 'logo' }, 'G'), h('span', { class: 'brand-name' }, 'Gannet')),
    searchForm,
    h('div', { class: 'me' }, $status, h('span', { class: 'me-addr' }, state.me.address),
      // An Apple configuration profile for this account (iPhone, iPad, Mac).
      state.me.mobileconfig && h('a', { class: 'icon-btn', id: 'mobileconfig', href: '/api/mobileconfig', download: '',
        title: 'Set up this account on an iPhone, iPad or Mac', 'aria-label': 'Download a profile for an iPhone, iPad or Mac' }, icon('phone')),
      // All of this account's mail, a zip of mbox files (one per folder).
      h('a', { class: 'icon-btn', id: 'export-zip', href: '/api/export.zip', download: '',
        title: 'Download all mail (a zip of mbox files)', 'aria-label': 'Download all mail as a zip of mbox files' }, icon('download')),
      h('button', { class: 'icon-btn', id: 'logout', title: 'Sign out', 'aria-label': 'Sign out', onclick: logout }, icon('logout'))));
  $folders = h('nav', { class: 'folders', 'aria-label': 'Folders' });
  const side = h('aside', { class: 'sidebar' },
    h('button', { class: 'primary compose-btn', id: 'compose', onclick: () => compose({}) }, icon('edit', 'Compose')),
    $folders,
    h('button', { class: 'link-btn', onclick: createFolder }, icon('plus', 'New folder')));
  $listHead = h('div', { class: 'list-head' });
  $list = h('ul', { class: 'messages', id: 'messages', role: 'listbox', 'aria-label': 'Messages', 'aria-multiselectable': 'true' });
  $list.addEventListener('scroll', () => {
    if (state.next && !state.loading && $list.scrollTop + $list.clientHeight > $list.scrollHeight - 300) loadMore();
  });
  const listPane = h('section', { class: 'list-pane' }, $listHead, $list);
  $reader = h('section', { class: 'reader', id: 'reader', 'aria-label': 'Message' });
  const scrim = h('div', { class: 'scrim', onclick: () => document.body.classList.remove('drawer') });
  $app.replaceChildren(top, h('div', { class: 'main' }, side, scrim, listPane, $reader));
  renderReader();
}

function setLive(s) {
  state.live = s;
  if ($status) {
    $status.className = 'live ' + s;
    $status.title = s === 'on' ? 'Live updates on' : 'Reconnecting…';
  }
}

// ---------- folders ----------
function folderIcon(m) {
  if (m.name.toUpperCase() === 'INBOX') return 'inbox';
  return { '\\Sent': 'send', '\\Drafts': 'draft', '\\Trash': 'trash', '\\Junk': 'junk', '\\Archive': 'archive' }[m.specialUse] || 'folder';
}
function folderName(m) { return m.name.toUpperCase() === 'INBOX' ? 'Inbox' : m.name; }
function currentMailbox() { return state.mailboxes.find((m) => m.id === state.mailbox); }

function renderFolders() {
  const items = state.mailboxes.map((m) => {
    const custom = m.name.toUpperCase() !== 'INBOX' && !m.specialUse;
    const depth = m.name.split('/').length - 1;
    const a = h('a', { href: `#/m/${m.id}`, class: `folder depth-${Math.min(depth, 4)}` + (m.id === state.mailbox ? ' active' : ''),
      dataset: { id: m.id },
      'aria-current': m.id === state.mailbox ? 'page' : null },
      icon(folderIcon(m)), h('span', { class: 'fname' }, depth ? m.name.split('/').pop() : folderName(m)),
      m.unseen ? h('span', { class: 'badge', 'aria-label': `${m.unseen} unread` }, m.unseen) : null);
    a.addEventListener('dragover', (ev) => { ev.preventDefault(); a.classList.add('drop'); });
    a.addEventListener('dragleave', () => a.classList.remove('drop'));
    a.addEventListener('drop', (ev) => {
      ev.preventDefault();
      a.classList.remove('drop');
      const uids = JSON.parse(ev.dataTransfer.getData('application/x-gannet-uids') || '[]');
      if (uids.length) moveTo(uids, m.id);
    });
    const li = h('li', {}, a);
    if (custom) {
      li.append(h('button', { class: 'icon-btn folder-menu', title: 'Rename or delete', 'aria-label': `Manage ${m.name}`,
        onclick: () => manageFolder(m) }, '⋯'));
    }
    return li;
  });
  $folders.replaceChildren(h('ul', {}, items));
  const cur = currentMailbox();
  document.title = cur ? `${folderName(cur)}${cur.unseen ? ` (${cur.unseen})` : ''} – Gannet Mail` : 'Gannet Mail';
}

async function loadMailboxes() {
  state.mailboxes = await api.get('/api/mailboxes');
  renderFolders();
}

async function createFolder() {
  const name = prompt('Name of the new folder (use / for a subfolder):');
  if (!name) return;
  try {
    const m = await api.post('/api/mailboxes', { name });
    await loadMailboxes();
    location.hash = `#/m/${m.id}`;
  } catch (e) { fail(e); }
}

async function manageFolder(m) {
  const name = prompt(`Rename "${m.name}" to (leave empty and confirm to delete it):`, m.name);
  if (name === null) return;
  try {
    if (name.trim() === '') {
      if (!confirm(`Delete the folder "${m.name}" and all its messages?`)) return;
      await api.del(`/api/mailboxes/${m.id}`);
      if (state.mailbox === m.id) location.hash = '';
      toast('Folder deleted');
    } else if (name !== m.name) {
      await api.patch(`/api/mailboxes/${m.id}`, { name });
      toast('Folder renamed');
    }
    await loadMailboxes();
  } catch (e) { fail(e); }
}

// ---------- message list ----------
function listURL(before, limit) {
  const p = new URLSearchParams();
  if (before) p.set('before', before);
  if (limit) p.set('limit', limit);
  if (state.query) { p.set('q', state.query); p.set('in', state.searchIn); }
  return `/api/mailboxes/${state.mailbox}/messages?${p}`;
}

// loadList loads the first page; with keep it reloads as many rows as are
// shown (a live refresh), keeping scroll position and selection.
async function loadList(reset, keep) {
  if (!state.mailbox) return;
  const seq = ++listSeq;
  if (reset) { state.selected.clear(); $list.scrollTop = 0; }
  const limit = keep ? Math.min(500, Math.max(50, state.messages.length)) : 50;
  state.loading = true;
  try {
    const page = await api.get(listURL(0, limit));
    if (seq !== listSeq) return;
    state.messages = page.messages;
    state.next = page.next;
    state.total = page.total;
    const uids = new Set(page.messages.map((m) => m.uid));
    for (const u of [...state.selected]) if (!uids.has(u)) state.selected.delete(u);
    renderList();
  } catch (e) {
    if (e.status === 404) { location.hash = ''; return; }
    fail(e);
  } finally {
    if (seq === listSeq) state.loading = false;
  }
}

async function loadMore() {
  const seq = listSeq;
  state.loading = true;
  try {
    const page = await api.get(listURL(state.next, 50));
    if (seq !== listSeq) return;
    const have = new Set(state.messages.map((m) => m.uid));
    state.messages.push(...page.messages.filter((m) => !have.has(m.uid)));
    state.next = page.next;
    renderList();
  } catch (e) { fail(e); } finally { state.loading = false; }
}

const has = (m, f) => m.flags.includes(f);

function renderListHead() {
  const mb = currentMailbox();
  const n = state.selected.size;
  const all = h('input', { type: 'checkbox', class: 'check', id: 'select-all', 'aria-label': 'Select all',
    onchange: (ev) => {
      state.selected = new Set(ev.target.checked ? state.messages.map((m) => m.uid) : []);
      renderList();
    } });
  all.checked = n > 0 && n === state.messages.length;
  all.indeterminate = n > 0 && n < state.messages.length;
  const targets = () => (n ? [...state.selected] : []);
  const moveSel = h('select', { class: 'move-select', 'aria-label': 'Move selected to', disabled: n === 0,
    onchange: (ev) => { const to = Number(ev.target.value); ev.target.value = ''; if (to) moveTo(targets(), to); } },
    h('option', { value: '' }, 'Move to…'),
    state.mailboxes.filter((m) => m.id !== state.mailbox).map((m) => h('option', { value: m.id }, folderName(m))));
  const isTrash = mb && (mb.specialUse === '\\Trash' || mb.specialUse === '\\Junk');
  $listHead.replaceChildren(
    h('div', { class: 'list-title' },
      h('button', { class: 'icon-btn back-btn', 'aria-label': 'Folders', onclick: () => document.body.classList.add('drawer') }, icon('menu')),
      h('h1', {}, state.query ? `Search: ${state.query}` : (mb ? folderName(mb) : '')),
      h('span', { class: 'count' }, state.query ? `${state.messages.length}${state.next ? '+' : ''} found` : `${state.total} message${state.total === 1 ? '' : 's'}`)),
    h('div', { class: 'toolbar' }, all,
      h('button', { class: 'tool', disabled: n === 0, title: 'Mark read', onclick: () => setFlags(targets(), ['\\Seen'], []) }, icon('mailOpen', 'Read')),
      h('button', { class: 'tool', disabled: n === 0, title: 'Mark unread', onclick: () => setFlags(targets(), [], ['\\Seen']) }, icon('mail', 'Unread')),
      h('button', { class: 'tool', disabled: n === 0, title: 'Flag', onclick: () => toggleFlag(targets()) }, icon('star', 'Flag')),
      moveSel,
      h('button', { class: 'tool danger', disabled: n === 0, title: 'Delete', onclick: () => remove(targets()) }, icon('trash', 'Delete')),
      mb && !state.query ? h('a', { class: 'tool', id: 'download-mbox', href: `/api/mailboxes/${mb.id}/mbox`, download: '', title: `Download ${folderName(mb)} as an mbox file` }, icon('download', 'Download')) : null,
      isTrash ? h('button', { class: 'tool danger', id: 'empty', title: `Empty ${mb.name}`, onclick: emptyFolder }, `Empty ${folderName(mb)}`) : null));
}

function renderList() {
  renderListHead();
  const isSent = currentMailbox()?.specialUse === '\\Sent' || currentMailbox()?.specialUse === '\\Drafts';
  const rows = state.messages.map((m) => {
    const seen = has(m, '\\Seen');
    const flagged = has(m, '\\Flagged');
    const check = h('input', { type: 'checkbox', class: 'check', 'aria-label': 'Select',
      onclick: (ev) => ev.stopPropagation(),
      onchange: (ev) => { if (ev.target.checked) state.selected.add(m.uid); else state.selected.delete(m.uid); renderList(); } });
    check.checked = state.selected.has(m.uid);
    const star = h('button', { class: 'star' + (flagged ? ' on' : ''), 'aria-label': flagged ? 'Unflag' : 'Flag', 'aria-pressed': flagged ? 'true' : 'false',
      onclick: (ev) => { ev.stopPropagation(); setFlags([m.uid], flagged ? [] : ['\\Flagged'], flagged ? ['\\Flagged'] : []); } }, icon('star'));
    const who = isSent ? 'To: ' + addrShort(m.to) : addrShort(m.from);
    const li = h('li', { class: 'msg' + (seen ? '' : ' unread') + (state.open && state.open.uid === m.uid ? ' current' : '') + (state.selected.has(m.uid) ? ' selected' : ''),
      role: 'option', tabindex: '-1', draggable: 'true', 'aria-selected': state.selected.has(m.uid) ? 'true' : 'false',
      dataset: { uid: m.uid }, onclick: () => { location.hash = `#/m/${state.mailbox}/${m.uid}`; } },
      check, star,
      h('div', { class: 'msg-main' },
        h('div', { class: 'msg-line' },
          h('span', { class: 'from' }, who),
          m.attachment ? h('span', { class: 'att', title: 'Has attachments' }, icon('clip')) : null,
          h('time', { datetime: m.date }, formatDate(m.date))),
        h('div', { class: 'subject' }, m.subject || '(no subject)'),
        h('div', { class: 'preview' }, m.preview)));
    li.addEventListener('dragstart', (ev) => {
      const uids = state.selected.has(m.uid) ? [...state.selected] : [m.uid];
      ev.dataTransfer.setData('application/x-gannet-uids', JSON.stringify(uids));
      ev.dataTransfer.effectAllowed = 'move';
    });
    return li;
  });
  if (rows.length === 0) {
    rows.push(h('li', { class: 'empty' }, state.loading ? 'Loading…' : (state.query ? 'No messages match.' : 'No messages here.')));
  } else if (state.next) {
    rows.push(h('li', { class: 'more' }, h('button', { class: 'link-btn', onclick: loadMore }, 'Load older messages')));
  }
  $list.replaceChildren(...rows);
}

// ---------- actions ----------
async function setFlags(uids, add, remove) {
  if (!uids.length) return;
  try {
    await api.post(`/api/mailboxes/${state.mailbox}/messages/flags`, { uids, add, remove });
    // Apply now; the event stream confirms it.
    for (const m of state.messages) {
      if (!uids.includes(m.uid)) continue;
      m.flags = m.flags.filter((f) => !remove.includes(f)).concat(add.filter((f) => !m.flags.includes(f)));
    }
    if (state.open && uids.includes(state.open.uid)) {
      state.open.flags = state.open.flags.filter((f) => !remove.includes(f)).concat(add.filter((f) => !state.open.flags.includes(f)));
      renderReaderHead();
    }
    renderList();
  } catch (e) { fail(e); }
}

function toggleFlag(uids) {
  const all = uids.every((u) => { const m = state.messages.find((x) => x.uid === u); return m && has(m, '\\Flagged'); });
  return setFlags(uids, all ? [] : ['\\Flagged'], all ? ['\\Flagged'] : []);
}

function afterRemoval(uids) {
  const idx = state.open ? state.messages.findIndex((m) => m.uid === state.open.uid) : -1;
  state.messages = state.messages.filter((m) => !uids.includes(m.uid));
  for (const u of uids) state.selected.delete(u);
  if (state.open && uids.includes(state.open.uid)) {
    const next = state.messages[Math.min(idx, state.messages.length - 1)];
    location.hash = next && !isPhone() ? `#/m/${state.mailbox}/${next.uid}` : `#/m/${state.mailbox}`;
  }
  renderList();
}

async function moveTo(uids, to) {
  try {
    await api.post(`/api/mailboxes/${state.mailbox}/messages/move`, { uids, to });
    afterRemoval(uids);
    const dst = state.mailboxes.find((m) => m.id === to);
    toast(`Moved ${uids.length} message${uids.length > 1 ? 's' : ''} to ${dst ? folderName(dst) : 'folder'}`);
  } catch (e) { fail(e); }
}

async function remove(uids) {
  if (!uids.length) return;
  const mb = currentMailbox();
  const permanent = mb && (mb.specialUse === '\\Trash' || mb.specialUse === '\\Junk');
  if (permanent && !confirm(`Delete ${uids.length} message${uids.length > 1 ? 's' : ''} for good?`)) return;
  try {
    await api.post(`/api/mailboxes/${state.mailbox}/messages/delete`, { uids });
    afterRemoval(uids);
    toast(permanent ? 'Deleted' : `Moved to Trash`);
  } catch (e) { fail(e); }
}

async function emptyFolder() {
  const mb = currentMailbox();
  if (!confirm(`Delete every message in ${folderName(mb)} for good?`)) return;
  try {
    await api.post(`/api/mailboxes/${mb.id}/empty`);
    afterRemoval(state.messages.map((m) => m.uid));
    toast(`${folderName(mb)} emptied`);
  } catch (e) { fail(e); }
}

// ---------- reader ----------
let $readerHead = null;

function isPhone() { return window.matchMedia('(max-width: 760px)').matches; }

async function openMessage(uid) {
  try {
    const msg = await api.get(`/api/mailboxes/${state.mailbox}/messages/${uid}`);
    if (state.mailbox !== msg.mailboxId) return;
    state.open = msg;
    document.body.classList.add('view-message');
    renderReader();
    for (const li of $list.querySelectorAll('li.msg')) li.classList.toggle('current', Number(li.dataset.uid) === uid);
    $list.querySelector(`li.msg[data-uid="${uid}"]`)?.scrollIntoView({ block: 'nearest' });
    if (!msg.flags.includes('\\Seen')) setFlags([uid], ['\\Seen'], []);
  } catch (e) {
    if (e.status === 404) { state.open = null; renderReader(); location.hash = `#/m/${state.mailbox}`; return; }
    fail(e);
  }
}

function renderReaderHead() {
  const m = state.open;
  if (!m || !$readerHead) return;
  const flagged = m.flags.includes('\\Flagged');
  const seen = m.flags.includes('\\Seen');
  const inDrafts = currentMailbox()?.specialUse === '\\Drafts';
  const people = (label, list) => list && list.length ? h('div', { class: 'people' }, h('span', { class: 'k' }, label), list.map(addrText).join(', ')) : null;
  $readerHead.replaceChildren(
    h('div', { class: 'reader-actions' },
      h('button', { class: 'icon-btn back-btn', 'aria-label': 'Back to list', onclick: () => { location.hash = `#/m/${state.mailbox}`; } }, icon('back')),
      inDrafts ? h('button', { class: 'tool', id: 'edit-draft', onclick: () => editDraft(m) }, icon('edit', 'Edit')) : null,
      h('button', { class: 'tool', id: 'reply', title: 'Reply (r)', onclick: () => reply(m, false) }, icon('reply', 'Reply')),
      h('button', { class: 'tool', id: 'reply-all', title: 'Reply all (a)', onclick: () => reply(m, true) }, icon('replyAll', 'Reply all')),
      h('button', { class: 'tool', id: 'forward', title: 'Forward (f)', onclick: () => forward(m) }, icon('forward', 'Forward')),
      h('span', { class: 'spacer' }),
      h('button', { class: 'icon-btn star' + (flagged ? ' on' : ''), id: 'reader-flag', 'aria-pressed': flagged ? 'true' : 'false', title: flagged ? 'Unflag' : 'Flag',
        onclick: () => setFlags([m.uid], flagged ? [] : ['\\Flagged'], flagged ? ['\\Flagged'] : []) }, icon('star')),
      h('button', { class: 'icon-btn', title: seen ? 'Mark unread' : 'Mark read',
        onclick: () => setFlags([m.uid], seen ? [] : ['\\Seen'], seen ? ['\\Seen'] : []) }, icon(seen ? 'mail' : 'mailOpen')),
      h('button', { class: 'icon-btn danger', title: 'Delete (#)', onclick: () => remove([m.uid]) }, icon('trash'))),
    h('h2', { class: 'reader-subject', id: 'reader-subject' }, m.subject || '(no subject)'),
    h('div', { class: 'reader-meta' },
      h('div', { class: 'avatar', 'aria-hidden': 'true' }, ((m.from[0] && (m.from[0].name || m.from[0].email)) || '?').trim().charAt(0).toUpperCase()),
      h('div', { class: 'meta-text' },
        h('div', { class: 'sender' }, h('strong', {}, m.from[0] ? (m.from[0].name || m.from[0].email) : '(unknown)'),
          m.from[0] && m.from[0].name ? h('span', { class: 'email' }, ` <${m.from[0].email}>`) : null),
        people('To', m.to), people('Cc', m.cc), people('Bcc', m.bcc)),
      h('time', { datetime: m.date }, formatDate(m.date, true))));
}

function renderReader() {
  const m = state.open;
  if (!m) {
    $readerHead = null;
    $reader.replaceChildren(h('div', { class: 'reader-empty' }, icon('mail'), h('p', {}, 'Select a message to read it.'),
      h('p', { class: 'hint' }, 'Keys: j/k next/previous · r reply · a reply all · f forward · # delete · / search · c compose')));
    return;
  }
  $readerHead = h('div', { class: 'reader-head' });
  renderReaderHead();
  const key = `${m.mailboxId}:${m.uid}`;
  let body;
  let banner = null;
  if (m.html) {
    const remote = state.remote.has(key);
    if (m.remoteImages > 0 && !remote) {
      banner = h('div', { class: 'banner', id: 'remote-banner' }, 'Remote images are blocked to protect your privacy.',
        h('button', { class: 'link-btn', id: 'show-remote', onclick: () => { state.remote.add(key); renderReader(); } }, 'Show images'));
    }
    body = h('iframe', { class: 'html-body', id: 'html-body', title: 'Message body',
      sandbox: 'allow-popups allow-popups-to-escape-sandbox', referrerpolicy: 'no-referrer',
      src: `/api/mailboxes/${m.mailboxId}/messages/${m.uid}/body${remote ? '?remote=1' : ''}`,
      onload: (ev) => { ev.target.dataset.loaded = '1'; } });
  } else {
    body = plainText(m.text || '');
  }
  const atts = m.attachments.length ? h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
    m.attachments.map((a) => h('li', {}, h('a', { href: `/api/mailboxes/${m.mailboxId}/messages/${m.uid}/parts/${a.section}`, download: a.filename, class: 'attachment' },
      icon('clip'), h('span', { class: 'att-name' }, a.filename), h('span', { class: 'att-size' }, formatSize(a.size)))))) : null;
  $reader.replaceChildren(...[$readerHead, banner, atts, h('div', { class: 'reader-body' + (m.html ? ' has-frame' : '') }, body)].filter(Boolean));
}

// ---------- compose entry points ----------
function compose(init) { openCompose(init, { toast, fail, identities: state.identities || [state.me.address] }); }

const stripRe = (s, re) => (re.test(s) ? s : null);
function quote(m) {
  const who = m.from[0] ? addrText(m.from[0]) : 'someone';
  return `\n\nOn ${formatDate(m.date, true)}, ${who} wrote:\n` + (m.text || '').split('\n').map((l) => '> ' + l).join('\n');
}

function reply(m, all) {
  const me = state.me.address.toLowerCase();
  const to = (m.replyTo.length ? m.replyTo : m.from);
  let cc = [];
  if (all) {
    const seen = new Set(to.map((a) => a.email.toLowerCase()).concat([me]));
    cc = [...m.to, ...m.cc].filter((a) => { const e = a.email.toLowerCase(); if (seen.has(e)) return false; seen.add(e); return true; });
  }
  compose({
    to: to.map(addrText).join(', '), cc: cc.map(addrText).join(', '),
    subject: (stripRe(m.subject, /^re:/i) || 'Re: ' + (m.subject || '')),
    text: quote(m), inReplyTo: m.messageId, references: ((m.references || '') + ' ' + (m.messageId || '')).trim(),
    answered: `${m.mailboxId}:${m.uid}`,
  });
}

function forward(m) {
  const head = ['', '', '---------- Forwarded message ----------',
    `From: ${m.from.map(addrText).join(', ')}`, `Date: ${formatDate(m.date, true)}`,
    `Subject: ${m.subject}`, `To: ${m.to.map(addrText).join(', ')}`, '', m.text || ''].join('\n');
  compose({
    subject: (stripRe(m.subject, /^fwd?:/i) || 'Fwd: ' + (m.subject || '')), text: head,
    attachments: m.attachments.map((a) => ({ ref: `${m.mailboxId}:${m.uid}:${a.section}`, name: a.filename, size: a.size })),
  });
}

function editDraft(m) {
  compose({
    to: m.to.map(addrText).join(', '), cc: m.cc.map(addrText).join(', '), bcc: m.bcc.map(addrText).join(', '),
    subject: m.subject, text: m.text, draftUid: m.uid, references: m.references,
    attachments: m.attachments.map((a) => ({ ref: `${m.mailboxId}:${m.uid}:${a.section}`, name: a.filename, size: a.size })),
  });
}

// ---------- live updates ----------
function closeEvents() {
  if (state.events) { state.events.close(); state.events = null; }
}

let retryDelay = 1000;
function connectEvents() {
  closeEvents();
  const es = new EventSource('/api/events');
  state.events = es;
  const apply = (ev) => {
    const data = JSON.parse(ev.data);
    state.mailboxes = data.mailboxes;
    return data;
  };
  es.addEventListener('hello', (ev) => {
    retryDelay = 1000;
    setLive('on');
    apply(ev);
    renderFolders();
    resync();
  });
  es.addEventListener('resync', (ev) => { apply(ev); renderFolders(); resync(); });
  es.addEventListener('change', (ev) => {
    const data = apply(ev);
    renderFolders();
    const mine = data.changes.filter((c) => c.mailboxId === state.mailbox);
    if (mine.length) {
      loadList(false, true);
      if (state.open && mine.some((c) => c.kind === 'flags' && (!c.uids || c.uids.includes(state.open.uid)))) refreshOpen();
    }
    if (data.changes.some((c) => c.kind === 'mailbox')) {
      if (!state.mailboxes.some((m) => m.id === state.mailbox)) location.hash = '';
      else if (state.messages.length) renderListHead();
    }
  });
  es.addEventListener('bye', (ev) => {
    const data = JSON.parse(ev.data);
    es.close();
    if (data.reason === 'logout') { showLogin('You have been signed out.'); return; }
    setLive('off');
    setTimeout(connectEvents, retryDelay);
  });
  es.onerror = async () => {
    setLive('off');
    if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    try {
      await api.get('/api/session');
    } catch (e) {
      if (e.status === 401) return; // the login screen is up
    }
    retryDelay = Math.min(retryDelay * 2, 30000);
    setTimeout(() => { if (state.me && state.events === es) connectEvents(); }, retryDelay);
  };
}

async function refreshOpen() {
  if (!state.open) return;
  try {
    const msg = await api.get(`/api/mailboxes/${state.open.mailboxId}/messages/${state.open.uid}`);
    if (state.open && state.open.uid === msg.uid && state.open.mailboxId === msg.mailboxId) {
      state.open.flags = msg.flags;
      renderReaderHead();
    }
  } catch (e) { /* gone: the list refresh handles it */ }
}

function resync() {
  loadList(false, true);
  if (state.open) refreshOpen();
}

// ---------- routing ----------
async function route() {
  if (!state.me) return;
  document.body.classList.remove('drawer');
  const m = location.hash.match(/^#\/m\/(\d+)(?:\/(\d+))?$/);
  const inbox = state.mailboxes.find((x) => x.name.toUpperCase() === 'INBOX') || state.mailboxes[0];
  const mid = m ? Number(m[1]) : inbox && inbox.id;
  const uid = m && m[2] ? Number(m[2]) : 0;
  if (!mid) return;
  if (mid !== state.mailbox) {
    state.mailbox = mid;
    state.messages = [];
    state.next = 0;
    state.query = '';
    if ($search) $search.value = '';
    state.open = null;
    renderFolders();
    renderList();
    renderReader();
    loadList(true);
  }
  if (uid) {
    if (!state.open || state.open.uid !== uid) await openMessage(uid);
  } else {
    state.open = null;
    document.body.classList.remove('view-message');
    renderReader();
    for (const li of $list.querySelectorAll('li.msg.current')) li.classList.remove('current');
  }
}

window.addEventListener('hashchange', route);

// ---------- keyboard ----------
function moveCursor(delta) {
  if (!state.messages.length) return;
  let i = state.open ? state.messages.findIndex((m) => m.uid === state.open.uid) : -1;
  i = Math.max(0, Math.min(state.messages.length - 1, i + delta));
  if (i === state.messages.length - 1 && state.next) loadMore();
  location.hash = `#/m/${state.mailbox}/${state.messages[i].uid}`;
}

document.addEventListener('keydown', (ev) => {
  if (!state.me || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
    if (ev.key === 'Escape') t.blur();
    return;
  }
  if (composeOpen()) return;
  const m = state.open;
  switch (ev.key) {
    case 'j': moveCursor(1); break;
    case 'k': moveCursor(-1); break;
    case 'r': if (m) reply(m, false); break;
    case 'a': if (m) reply(m, true); break;
    case 'f': if (m) forward(m); break;
    case '#': if (m) remove([m.uid]); else if (state.selected.size) remove([...state.selected]); break;
    case 's': if (m) toggleFlag([m.uid]); break;
    case 'u': case 'Escape': if (m) location.hash = `#/m/${state.mailbox}`; break;
    case 'c': compose({}); break;
    case '/': $search.focus(); break;
    default: return;
  }
  ev.preventDefault();
});

// ---------- start ----------
async function start(me) {
  state.me = me;
  api.setCSRF(me.csrf);
  buildShell();
  try {
    await loadMailboxes();
    state.identities = await api.get('/api/identities');
  } catch (e) { fail(e); }
  await route();
  connectEvents();
}

(async () => {
  try {
    start(await api.get('/api/session'));
  } catch (e) {
    showLogin(e.status === 401 ? '' : e.message);
  }
})();
