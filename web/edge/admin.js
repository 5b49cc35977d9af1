// Admin only: staff users (add, change role, disable, reset password) and the audit log.
import { api } from './api.js';
import { el, $, fmtTime, toast } from './util.js';

const ROLES = ['viewer', 'picker', 'manager', 'admin'];
const audit = { cursor: null, filter: {} };

async function patch(name, body) {
  try {
    await api('PATCH', `/api/users/${encodeURIComponent(name)}`, body);
    toast(`Updated ${name}`);
  } catch (e) {
    toast(e.message, 'error');
  }
  await loadUsers();
}

function userRow(u) {
  const role = el('select', { 'aria-label': `Role of ${u.name}`, onchange: (e) => patch(u.name, { role: e.target.value }) },
    ...ROLES.map((r) => el('option', { value: r, selected: r === u.role }, r)));
  return el('tr', { dataset: { user: u.name } },
    el('td', { text: u.name }), el('td', {}, role),
    el('td', { text: u.disabled ? 'disabled' : 'active' }),
    el('td', { text: u.created ? String(u.created) : '' }),
    el('td', {},
      el('button', { type: 'button', onclick: () => patch(u.name, { disabled: !u.disabled }) }, u.disabled ? 'Enable' : 'Disable'), ' ',
      el('button', { type: 'button', onclick: () => {
        const pw = prompt(`New password for ${u.name}`);
        if (pw) patch(u.name, { password: pw });
      } }, 'Reset password')));
}

export async function loadUsers() {
  try {
    const r = await api('GET', '/api/users');
    const users = Array.isArray(r) ? r : (r.users || []);
    $('user-rows').replaceChildren(...users.map(userRow));
  } catch (e) {
    $('user-rows').replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: e.status === 404 ? 'User management not available' : e.message })));
  }
}

function auditRow(a) {
  const when = a.ts_ms ?? a.at_ms ?? a.time;
  return el('tr', {}, el('td', { text: typeof when === 'number' ? fmtTime(when) : (when || '') }),
    el('td', { text: a.actor || '' }), el('td', { text: a.action || '' }), el('td', { text: a.target || '' }),
    el('td', { class: 'muted', text: a.details ? JSON.stringify(a.details) : '' }));
}

export async function loadAudit(more = false) {
  const q = new URLSearchParams({ limit: '50' });
  if (more && audit.cursor) q.set('cursor', audit.cursor);
  for (const [k, v] of Object.entries(audit.filter)) if (v) q.set(k, v);
  try {
    const r = await api('GET', `/api/audit?${q}`);
    const entries = Array.isArray(r) ? r : (r.entries || r.items || []);
    const rows = entries.map(auditRow);
    if (more) $('audit-rows').append(...rows); else $('audit-rows').replaceChildren(...rows);
    audit.cursor = r.next_cursor ?? null;
    $('audit-more').hidden = !audit.cursor;
  } catch (e) {
    $('audit-rows').replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: e.status === 404 ? 'Audit log not available' : e.message })));
  }
}

export function init() {
  $('user-add').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    $('user-error').textContent = '';
    try {
      await api('POST', '/api/users', { name: f.get('name'), role: f.get('role'), password: f.get('password') });
      ev.target.reset();
      toast(`User ${f.get('name')} added`);
      await loadUsers();
    } catch (e) {
      $('user-error').textContent = e.message;
    }
  });
  $('audit-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    audit.filter = { actor: f.get('actor'), action: f.get('action') };
    loadAudit();
  });
  $('audit-more').addEventListener('click', () => loadAudit(true));
}
