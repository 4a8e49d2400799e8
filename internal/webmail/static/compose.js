// compose.js: the compose window (new, reply, reply all, forward, draft),
// with attachments and autosave to Drafts.
import * as api from './api.js';
import { h, icon, formatSize } from './dom.js';

let current = null; // the open compose window, if any

export function composeOpen() { return current !== null; }

const AUTOSAVE_MS = 2500;

export function openCompose(init, ctx) {
  if (current) current.close(true);
  const st = {
    draftUid: init.draftUid || 0,
    attachments: (init.attachments || []).map((a) => ({ ...a })),
    dirty: false,
    saving: null,
    timer: 0,
    sent: false,
  };
  const field = (id, label, value, type = 'text') => {
    const input = h('input', { id, name: id, type, value: value || '', autocomplete: 'off', 'aria-label': label });
    input.addEventListener('input', changed);
    return input;
  };
  const from = h('select', { id: 'compose-from', 'aria-label': 'From' }, ctx.identities.map((a) => h('option', { value: a }, a)));
  const to = field('compose-to', 'To', init.to, 'text');
  const cc = field('compose-cc', 'Cc', init.cc);
  const bcc = field('compose-bcc', 'Bcc', init.bcc);
  const subject = field('compose-subject', 'Subject', init.subject);
  const text = h('textarea', { id: 'compose-text', 'aria-label': 'Message', rows: 12 });
  text.value = init.text || '';
  text.addEventListener('input', changed);
  const status = h('span', { class: 'compose-status', id: 'compose-status' });
  const attList = h('ul', { class: 'compose-atts' });
  const fileInput = h('input', { type: 'file', multiple: true, id: 'compose-file', class: 'visually-hidden' });
  fileInput.addEventListener('change', () => {
    for (const f of fileInput.files) st.attachments.push({ file: f, name: f.name, size: f.size });
    fileInput.value = '';
    renderAtts();
    changed();
  });
  const ccRow = h('div', { class: 'row' + (init.cc || init.bcc ? '' : ' hidden') }, h('label', { for: 'compose-cc' }, 'Cc'), cc);
  const bccRow = h('div', { class: 'row' + (init.bcc ? '' : ' hidden') }, h('label', { for: 'compose-bcc' }, 'Bcc'), bcc);
  const sendBtn = h('button', { class: 'primary', id: 'compose-send', type: 'submit' }, icon('send', 'Send'));
  const form = h('form', { class: 'compose', id: 'compose-window', 'aria-label': 'Compose message', onsubmit: (ev) => { ev.preventDefault(); send(); } },
    h('header', {}, h('h2', {}, init.subject ? init.subject : 'New message'),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close (draft is kept)', title: 'Close (draft is kept)', onclick: () => close(false) }, icon('close'))),
    h('div', { class: 'fields' },
      ctx.identities.length > 1 ? h('div', { class: 'row' }, h('label', { for: 'compose-from' }, 'From'), from) : null,
      h('div', { class: 'row' }, h('label', { for: 'compose-to' }, 'To'), to,
        h('button', { type: 'button', class: 'link-btn small', onclick: () => { ccRow.classList.remove('hidden'); bccRow.classList.remove('hidden'); cc.focus(); } }, 'Cc/Bcc')),
      ccRow, bccRow,
      h('div', { class: 'row' }, h('label', { for: 'compose-subject' }, 'Subject'), subject)),
    text, attList,
    h('footer', {}, sendBtn,
      h('label', { class: 'tool', for: 'compose-file', title: 'Attach files' }, icon('clip', 'Attach')), fileInput,
      status,
      h('button', { type: 'button', class: 'tool danger', id: 'compose-discard', onclick: discard }, icon('trash', 'Discard'))));
  form.addEventListener('dragover', (ev) => { if (ev.dataTransfer.types.includes('Files')) ev.preventDefault(); });
  form.addEventListener('drop', (ev) => {
    if (!ev.dataTransfer.files.length) return;
    ev.preventDefault();
    for (const f of ev.dataTransfer.files) st.attachments.push({ file: f, name: f.name, size: f.size });
    renderAtts();
    changed();
  });
  form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { ev.preventDefault(); close(false); }
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); send(); }
  });
  const overlay = h('div', { class: 'compose-layer' }, form);
  document.body.append(overlay);
  document.body.classList.add('composing');
  renderAtts();
  (init.to ? text : to).focus();
  if (init.to) text.setSelectionRange(0, 0);

  function renderAtts() {
    attList.replaceChildren(...st.attachments.map((a, i) => h('li', {}, icon('clip'), h('span', { class: 'att-name' }, a.name),
      h('span', { class: 'att-size' }, formatSize(a.size || 0)),
      h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Remove ${a.name}`, onclick: () => { st.attachments.splice(i, 1); renderAtts(); changed(); } }, icon('close')))));
  }

  function changed() {
    st.dirty = true;
    clearTimeout(st.timer);
    st.timer = setTimeout(() => save(), AUTOSAVE_MS);
  }

  function formData() {
    const fd = new FormData();
    fd.set('from', from.value || '');
    fd.set('to', to.value);
    fd.set('cc', cc.value);
    fd.set('bcc', bcc.value);
    fd.set('subject', subject.value);
    fd.set('text', text.value);
    if (init.inReplyTo) fd.set('inReplyTo', init.inReplyTo);
    if (init.references) fd.set('references', init.references);
    if (init.answered) fd.set('answered', init.answered);
    if (st.draftUid) fd.set('draft', String(st.draftUid));
    for (const a of st.attachments) {
      if (a.ref) fd.append('attach', a.ref);
      else fd.append('file', a.file, a.name);
    }
    return fd;
  }

  // save autosaves to Drafts; the answer's attachments replace the ones
  // just saved, so files are uploaded once.
  async function save() {
    clearTimeout(st.timer);
    if (st.sent || !st.dirty) return;
    if (st.saving) { await st.saving; if (!st.dirty) return; }
    st.dirty = false;
    const included = st.attachments.slice();
    status.textContent = 'Saving…';
    st.saving = (async () => {
      try {
        const d = await api.post('/api/drafts', formData());
        st.draftUid = d.uid;
        const refs = d.attachments.map((a) => ({ ref: `${d.mailboxId}:${d.uid}:${a.section}`, name: a.filename, size: a.size }));
        const later = st.attachments.filter((a) => !included.includes(a));
        st.attachments = refs.concat(later);
        renderAtts();
        status.textContent = 'Draft saved';
      } catch (e) {
        st.dirty = true;
        status.textContent = 'Draft not saved';
        ctx.fail(e);
      } finally {
        st.saving = null;
      }
    })();
    await st.saving;
  }

  async function send() {
    clearTimeout(st.timer);
    if (!to.value.trim() && !cc.value.trim() && !bcc.value.trim()) { ctx.toast('Add at least one recipient.', true); to.focus(); return; }
    if (st.saving) await st.saving;
    sendBtn.disabled = true;
    status.textContent = 'Sending…';
    try {
      await api.post('/api/send', formData());
      st.sent = true;
      close(true);
      ctx.toast('Message sent');
    } catch (e) {
      sendBtn.disabled = false;
      status.textContent = '';
      ctx.fail(e);
    }
  }

  async function discard() {
    st.sent = true; // stops autosave
    clearTimeout(st.timer);
    if (st.saving) await st.saving;
    close(true);
    // Nothing was saved yet: closing is all there is to do.
    if (!st.draftUid) return;
    try {
      const boxes = await api.get('/api/mailboxes');
      const drafts = boxes.find((b) => b.specialUse === '\\Drafts');
      if (drafts) await api.post(`/api/mailboxes/${drafts.id}/messages/delete`, { uids: [st.draftUid] });
      ctx.toast('Draft discarded');
    } catch (e) { ctx.fail(e); }
  }

  function close(force) {
    if (!force && st.dirty) save();
    clearTimeout(st.timer);
    overlay.remove();
    document.body.classList.remove('composing');
    current = null;
  }

  current = { close };
}
