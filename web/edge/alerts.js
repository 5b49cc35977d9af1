// The alert board: open alerts first (critical on top), each with who acknowledged or
// resolved it and when; managers and admins acknowledge and resolve.
import { api, atLeast } from './api.js';
import { el, $, fmtTime, toast, perFrame } from './util.js';
import * as live from './live.js';

const state = { alerts: new Map(), which: 'open', available: true, onCount: () => {} };

function visible(a) {
  if (state.which === 'open') return a.state !== 'resolved';
  if (state.which === 'resolved') return a.state === 'resolved';
  return true;
}

function order(a, b) {
  const rank = (x) => (x.state === 'resolved' ? 2 : 0) + (x.severity === 'critical' ? 0 : 1);
  return rank(a) - rank(b) || b.id - a.id;
}

function who(label, w) {
  return w ? `${label} by ${w.by} at ${fmtTime(w.at_ms)}${w.note ? ` – ${w.note}` : ''}` : '';
}

async function act(a, action) {
  try {
    const updated = await api('POST', `/api/alert-board/${a.id}/${action}`);
    state.alerts.set(updated.id, updated);
    render();
  } catch (e) {
    toast(e.message, 'error');
  }
}

function item(a) {
  const buttons = el('div', { class: 'buttons' });
  if (atLeast('manager') && a.state !== 'resolved') {
    if (a.state === 'active') buttons.append(el('button', { type: 'button', class: 'ack', onclick: () => act(a, 'ack') }, 'Acknowledge'));
    buttons.append(el('button', { type: 'button', class: 'resolve', onclick: () => act(a, 'resolve') }, 'Resolve'));
  }
  const meta = [`${a.kind.replaceAll('_', ' ')} · raised ${fmtTime(a.raised_ms)}`,
    who('acknowledged', a.acknowledged), who('resolved', a.resolved)].filter(Boolean).join(' · ');
  return el('li', { class: `alert ${a.severity} ${a.state}`, dataset: { id: a.id, kind: a.kind, state: a.state } },
    el('span', { class: 'title', text: a.title }), buttons, el('span', { class: 'meta', text: meta }));
}

function render() {
  const list = $('alert-list');
  if (!state.available) {
    list.replaceChildren(el('li', { class: 'na-box', text: 'Alert board not available on this store box' }));
    return;
  }
  const shown = [...state.alerts.values()].filter(visible).sort(order).slice(0, 500);
  list.replaceChildren(...(shown.length ? shown.map(item) : [el('li', { class: 'muted', text: 'No alerts' })]));
  let active = 0;
  let acked = 0;
  for (const a of state.alerts.values()) {
    if (a.state === 'active') active++;
    else if (a.state === 'acknowledged') acked++;
  }
  $('alert-counts').textContent = `${active} active, ${acked} acknowledged`;
  state.onCount(active);
}
const renderSoon = perFrame(render);

export async function load() {
  try {
    const r = await api('GET', `/api/alert-board?state=${state.which}&limit=500`);
    state.available = true;
    state.alerts = new Map(r.alerts.map((a) => [a.id, a]));
  } catch (e) {
    if (e.status !== 404) throw e;
    state.available = false;
  }
  render();
}

export function init(onCount) {
  state.onCount = onCount;
  $('alert-state').addEventListener('change', (e) => { state.which = e.target.value; load(); });
  live.on('alert.', (_type, a) => {
    state.alerts.set(a.id, a);
    // A long-running page must not collect resolved alerts forever.
    if (state.alerts.size > 2000) {
      for (const [id, x] of state.alerts) { if (x.state === 'resolved') state.alerts.delete(id); if (state.alerts.size <= 1500) break; }
    }
    renderSoon();
  });
}
