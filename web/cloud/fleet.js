// The fleet dashboard's pieces of the operations page: the tiles (orders per minute with
// a sparkline, delivery times against the promise, the pricing kill switch,
// notification health), the list of stores breaching their promise, a store's
// drill-down and the order lookup. Everything is drawn here from the API's JSON with
// DOM calls (never markup from data), and nothing is fetched from anywhere else.
import { $, el, svg, fmtAge, fmtTime } from './util.js';

const mins = (s) => (s === null || s === undefined ? '–' : `${(s / 60).toFixed(1)} min`);
const pct = (x) => (x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`);
const money = (cents) => (cents / 100).toFixed(2);

// A line of the counts (oldest first) in a small inline SVG, with its peak marked.
export function sparkline(counts, label) {
  const w = 120; const h = 32; const n = counts.length;
  const max = Math.max(1, ...counts);
  const points = counts.map((c, i) => `${((i / Math.max(1, n - 1)) * w).toFixed(1)},${(h - 2 - (c / max) * (h - 4)).toFixed(1)}`).join(' ');
  const root = svg('svg', { viewBox: `0 0 ${w} ${h}`, class: 'spark', role: 'img', 'aria-label': label, preserveAspectRatio: 'none' });
  root.append(svg('polyline', { points, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }));
  return root;
}

function figure(label, value, id) {
  return el('div', { class: 'figure' }, el('span', { class: 'label', text: label }), el('span', { class: 'value', id, text: value }));
}

export function surgeText(s) {
  if (!s) return '–';
  return s.step > 0 ? `step ${s.step}: ${money(s.fee_cents)}` : `base ${money(s.fee_cents)}`;
}

export function renderTiles(sum) {
  const opm = sum.orders_per_minute;
  $('tile-opm-body').replaceChildren(
    figure('last minute', String(opm.last_minute), 'opm-last'),
    figure('last hour', String(opm.total), 'opm-total'),
    sparkline(opm.counts, `Orders per minute over the last hour: ${opm.total} in all, at most ${Math.max(0, ...opm.counts)} in a minute`));
  const d = sum.delivery;
  $('tile-delivery-body').replaceChildren(
    figure('p50', mins(d.p50_s), 'delivery-p50'),
    figure('p90', mins(d.p90_s), 'delivery-p90'),
    figure('p99', mins(d.p99_s), 'delivery-p99'),
    figure('on time', d.with_promise ? `${pct(d.on_time_share)} of ${d.with_promise}` : '–', 'delivery-on-time'),
    figure('promise (median)', d.promised_p50_min === null ? '–' : `${d.promised_p50_min.toFixed(0)} min`, 'delivery-promise'),
    el('p', { class: 'muted small', id: 'delivery-count', text: `${d.delivered} delivered in the last ${Math.round(sum.window_s / 60)} min${d.truncated ? ' (newest 20,000 counted)' : ''}` }));
  const on = sum.pricing.enabled;
  $('pricing-state').textContent = on ? 'Dynamic pricing is on' : 'Kill switch on: base prices and fees';
  $('pricing-state').className = on ? 'ok' : 'warn-text';
  const toggle = $('kill-switch');
  toggle.setAttribute('aria-pressed', String(!on));
  toggle.textContent = on ? 'Turn dynamic pricing off' : 'Turn dynamic pricing back on';
  toggle.dataset.enabled = String(on);
  const n = sum.notifications;
  $('tile-notify-body').replaceChildren(
    figure('pending', String(n.pending), 'notify-pending'),
    figure('oldest pending', n.oldest_pending_age_s === null ? '–' : fmtAge(n.oldest_pending_age_s * 1000), 'notify-oldest'),
    n.channels.length
      ? el('table', { class: 'compact' },
        el('thead', {}, el('tr', {}, el('th', { text: 'Channel' }), el('th', { class: 'num', text: 'Pending' }), el('th', { class: 'num', text: 'Failed' }), el('th', { class: 'num', text: 'Dead' }))),
        el('tbody', { id: 'notify-channels' }, n.channels.map((c) => el('tr', { dataset: { channel: c.channel } },
          el('td', { text: c.channel }), el('td', { class: 'num', text: String(c.pending) }),
          el('td', { class: c.failed ? 'num warn' : 'num', text: String(c.failed) }), el('td', { class: c.dead ? 'num warn' : 'num', text: String(c.dead) })))))
      : el('p', { class: 'muted small', text: 'no notification channel configured' }),
    el('p', { class: 'muted small', text: `failed and dead over the last ${Math.round(n.failures_window_s / 3600)} h` }));
}

export function renderBreaching(sum, open) {
  const list = $('breaching');
  if (!sum.breaching.length) {
    list.replaceChildren(el('li', { class: 'muted', text: `No store is late on more than ${pct(sum.breach_late_share)} of its deliveries` }));
    return;
  }
  list.replaceChildren(...sum.breaching.map((b) => el('li', {},
    el('button', { type: 'button', class: 'link', dataset: { store: b.store_id }, onclick: () => open(b.store_id) },
      `${b.name} (${b.store_id})`),
    ` ${pct(b.late_share)} late: ${b.late} of ${b.delivered}`)));
}

export function renderDrill(d) {
  const s = d.store;
  $('drill-title').textContent = `${s.name} (${s.id})`;
  // In the order an order moves through them (the API's object is sorted by name).
  const flow = ['pending_payment', 'confirmed', 'routed', 'accepted', 'picking', 'packed', 'out_for_delivery'];
  const rank = (k) => (flow.indexOf(k) < 0 ? flow.length : flow.indexOf(k));
  const openRows = Object.entries(d.open_orders).sort(([a], [b]) => rank(a) - rank(b)).map(([status, count]) => el('tr', { dataset: { status } },
    el('td', { text: status.replaceAll('_', ' ') }), el('td', { class: 'num', text: String(count) })));
  const late = d.late_orders.map((o) => el('li', {},
    el('button', { type: 'button', class: 'link', dataset: { order: o.order_id }, onclick: () => lookup(o.order_id) }, o.order_id),
    ` ${mins(o.late_s)} late, delivered ${fmtTime(o.delivered_at_ms)}`));
  const dl = d.delivery;
  $('drill-body').replaceChildren(
    el('div', { class: 'figures' },
      figure('state', !s.active ? 'inactive' : s.online ? 'online' : 'offline', 'drill-state'),
      figure('last sync', s.last_seen_ms ? fmtTime(s.last_seen_ms) : 'never', 'drill-last-sync'),
      figure('sync lag', s.sync_lag_s === null ? '–' : fmtAge(s.sync_lag_s * 1000), 'drill-lag'),
      figure('oldest unsynced change', s.oldest_unsynced_change_ms ? `${fmtTime(s.oldest_unsynced_change_ms)} (${fmtAge(Date.now() - s.oldest_unsynced_change_ms)} ago)` : 'none', 'drill-unsynced'),
      figure('surge', surgeText(s.surge), 'drill-surge'),
      figure('orders last hour', String(d.orders_per_minute.total), 'drill-orders'),
      figure('p50 / p90', `${mins(dl.p50_s)} / ${mins(dl.p90_s)}`, 'drill-p'),
      figure('on time', dl.with_promise ? `${pct(dl.on_time_share)} of ${dl.with_promise}` : '–', 'drill-on-time')),
    sparkline(d.orders_per_minute.counts, `Orders per minute at ${s.name} over the last hour`),
    el('h4', { text: 'Open orders' }),
    el('table', { class: 'compact' }, el('tbody', { id: 'drill-open' }, openRows)),
    el('h4', { text: 'Recent late deliveries' }),
    late.length ? el('ul', { id: 'drill-late' }, late) : el('p', { class: 'muted', id: 'drill-late', text: 'none in the window' }));
}

// The order lookup; set by the page (it owns the API calls).
let lookupFn = () => {};
export function setLookup(fn) { lookupFn = fn; }
function lookup(id) { lookupFn(id); }

export function renderOrder(r) {
  const o = r.order;
  const events = r.events.map((e) => el('tr', { dataset: { seq: String(e.seq) } },
    el('td', { text: fmtTime(e.at_ms) }),
    el('td', { text: e.kind === 'status' ? (e.body.status || '').replaceAll('_', ' ') : e.kind }),
    el('td', { text: e.body.reason || e.body.store_id || '' })));
  $('order-result').replaceChildren(
    el('div', { class: 'figures' },
      figure('status', o.status.replaceAll('_', ' '), 'order-status'),
      figure('store', o.store_id || '–', 'order-store'),
      figure('placed', fmtTime(o.created_at_ms), 'order-placed'),
      figure('promised', o.promised_at_ms ? fmtTime(o.promised_at_ms) : '–', 'order-promised'),
      figure('paid', r.paid ? 'yes' : 'no', 'order-paid'),
      figure('total', money(o.total_cents), 'order-total')),
    r.reason ? el('p', { text: `Reason: ${r.reason}` }) : null,
    el('table', { class: 'compact' },
      el('caption', { text: `Events (${r.events.length})` }),
      el('thead', {}, el('tr', {}, el('th', { text: 'When' }), el('th', { text: 'What' }), el('th', { text: 'Detail' }))),
      el('tbody', { id: 'order-events' }, events)));
}
