// The order board: a column per state, each order with a timer against its promised
// time (late ones flagged); an order opens to its lines, pick progress and runner.
// Works with whatever the edge's order routes return and says so when there are none.
import { api } from './api.js';
import { el, $, fmtTimer, fmtTime, perFrame, toast } from './util.js';
import * as live from './live.js';

const COLUMNS = [
  ['routed', 'New'], ['accepted', 'Accepted'], ['picking', 'Picking'], ['packed', 'Packed'],
  ['out_for_delivery', 'Out for delivery'], ['done', 'Done'],
];
const DONE = new Set(['delivered', 'cancelled', 'failed']);
const state = { orders: new Map(), available: null, problem: '', pickerView: false, open: null };

// Field names vary between order shapes; read them tolerantly.
const idOf = (o) => o.id ?? o.order_id;
const statusOf = (o) => o.status ?? o.state;
function promisedMs(o) {
  const v = o.promised_at_ms ?? o.promised_at ?? o.promised_ms;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') { const t = Date.parse(v); return Number.isNaN(t) ? null : t; }
  return null;
}

function card(o, now) {
  const promised = promisedMs(o);
  const left = promised === null ? null : promised - now;
  const done = DONE.has(statusOf(o));
  const late = !done && left !== null && left < 0;
  const lines = o.lines || o.items || [];
  return el('div', { class: `order${late ? ' late' : ''}`, dataset: { id: idOf(o), status: statusOf(o) }, onclick: () => openOrder(idOf(o)) },
    left === null || done ? null : el('span', { class: 'timer', text: fmtTimer(left) }),
    el('strong', { text: idOf(o) }),
    // Who is picking it: claims arrive live as order.claim events.
    o.picker && !done ? el('div', { class: 'picker', dataset: { picker: o.picker }, text: `picker ${o.picker}` }) : null,
    el('div', { class: 'muted', text: `${o.units ? `${o.units_picked ?? 0}/${o.units} picked` : lines.length ? `${lines.length} lines` : ''}${o.runner_id ? ` · ${o.runner_id}` : ''}${done ? ` · ${statusOf(o)}` : ''}` }),
    late ? el('div', { text: 'LATE' }) : null);
}

function render() {
  const board = $('order-board');
  if (state.available === false) {
    board.replaceChildren(el('div', { class: 'na-box', id: 'orders-na', text: state.problem }));
    return;
  }
  const now = Date.now();
  const byCol = new Map(COLUMNS.map(([k]) => [k, []]));
  for (const o of state.orders.values()) {
    const s = statusOf(o);
    const col = DONE.has(s) ? 'done' : s;
    if (byCol.has(col)) byCol.get(col).push(o);
  }
  const cols = state.pickerView ? COLUMNS.filter(([k]) => ['accepted', 'picking', 'packed'].includes(k)) : COLUMNS;
  board.replaceChildren(...cols.map(([k, label]) => {
    const list = byCol.get(k).sort((a, b) => (promisedMs(a) ?? Infinity) - (promisedMs(b) ?? Infinity)).slice(0, 200);
    return el('div', { class: 'col', dataset: { status: k } }, el('h3', { text: `${label} (${byCol.get(k).length})` }), ...list.map((o) => card(o, now)));
  }));
}
const renderSoon = perFrame(render);

export async function load() {
  try {
    const r = await api('GET', '/api/orders?limit=500');
    const list = Array.isArray(r) ? r : (r.orders || r.items || []);
    state.orders = new Map(list.map((o) => [idOf(o), o]));
    state.available = true;
    state.problem = '';
  } catch (e) {
    // 404: this store box has no order routes yet; 403: not for this role.
    state.available = false;
    state.problem = e.status === 404 || e.status === 405 ? 'Orders not available on this store box yet'
      : e.status === 403 ? 'Orders are not shown to your role' : `Orders not available: ${e.message}`;
  }
  render();
}

async function openOrder(id) {
  const box = $('order-detail');
  state.open = id;
  let o;
  try { o = await api('GET', `/api/orders/${encodeURIComponent(id)}`); } catch (e) { toast(e.message, 'error'); return; }
  if (state.open !== id) return;
  const lines = o.lines || o.items || [];
  const picked = lines.reduce((n, l) => n + (l.picked ?? l.picked_qty ?? 0), 0);
  const wanted = lines.reduce((n, l) => n + (l.qty ?? l.quantity ?? 0), 0);
  box.hidden = false;
  box.replaceChildren(
    el('h3', { text: `Order ${idOf(o)}` }),
    el('p', { text: `${statusOf(o)}${promisedMs(o) ? ` · promised ${fmtTime(promisedMs(o))}` : ''}${o.runner_id ? ` · runner ${o.runner_id}` : ''}` }),
    el('p', { text: `Picked ${picked} of ${wanted}${o.picker ? ` · picker ${o.picker}` : ''}` }),
    el('table', {}, el('tbody', {}, lines.map((l) => el('tr', {}, el('td', { text: l.sku }), el('td', { text: l.name || '' }),
      el('td', { class: 'num', text: `${l.picked ?? l.picked_qty ?? 0}/${l.qty ?? l.quantity ?? ''}` }), el('td', { text: l.bin || '' }))))),
    el('button', { type: 'button', onclick: () => { box.hidden = true; state.open = null; } }, 'Close'));
}

export function init({ pickerView }) {
  state.pickerView = pickerView;
  live.on('order.', (_type, b) => {
    const id = b.order_id ?? b.id;
    if (id === undefined) return;
    const o = state.orders.get(id) || { id };
    Object.assign(o, b);
    if (_type === 'order.claim' && !b.picker) delete o.picker; // given back
    if (b.status || b.to) o.status = b.status ?? b.to;
    state.orders.set(id, o);
    // Delivered orders leave the board after a while; keep the map bounded.
    if (state.orders.size > 3000) {
      for (const [k, x] of state.orders) { if (DONE.has(statusOf(x))) state.orders.delete(k); if (state.orders.size <= 2000) break; }
    }
    renderSoon();
    if (state.open === id) openOrder(id);
  });
  setInterval(() => { if (state.available) renderSoon(); }, 1000);
}

export function orders() { return state.orders; }
