// The planning panel: the store's coming peak hours with the staff each needs (a heat
// map, a week by the hour), a SKU's actual demand against its forecast with the p50-p90
// band, and the reorder list a manager approves with one click (a draft purchase order
// per supplier, sent from the list of open orders).
import { api, atLeast } from './api.js';
import { el, svg, $, fmtTime, toast } from './util.js';

const REASONS = {
  below_order_up_to: 'below its order-up-to level',
  covered: 'covered until the next order day',
  pack_rounded: 'rounded up to whole packs',
  min_order_qty: 'raised to the minimum order',
  shelf_life_cap: 'capped at what sells before expiry',
  shelf_life_below_min_order: 'minimum order exceeds what sells before expiry',
  expiring_stock_not_cover: 'stock expiring before delivery not counted',
  stockouts_in_history: 'sold out in its history (demand estimated past the sell-outs)',
};

const state = { sku: '', opened: false };

function message(target, text, kind = 'muted') {
  $(target).replaceChildren(el('p', { class: kind, text }));
}

// ---- Peak hours -------------------------------------------------------------------

function dayLabel(ts) {
  const d = new Date(`${ts}Z`);
  return d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
}

function renderPeak(plan) {
  const days = [];
  for (const h of plan.hours) {
    const day = h.ts.slice(0, 10);
    if (!days.length || days[days.length - 1].day !== day) days.push({ day, label: dayLabel(h.ts), hours: [] });
    days[days.length - 1].hours.push(h);
  }
  const max = Math.max(0.5, ...plan.hours.map((h) => h.orders_mean));
  const peaks = new Set(plan.daily_peaks.map((i) => plan.hours[i].ts));
  const head = el('tr', {}, el('th', { scope: 'col', text: 'Day' }),
    ...Array.from({ length: 24 }, (_, h) => el('th', { scope: 'col', class: 'hour', text: String(h).padStart(2, '0') })));
  const rows = days.map((d) => el('tr', { dataset: { day: d.day } }, el('th', { scope: 'row', text: d.label }),
    ...Array.from({ length: 24 }, (_, hour) => {
      const h = d.hours.find((x) => Number(x.ts.slice(11, 13)) === hour);
      if (!h) return el('td', { class: 'empty' });
      const share = h.orders_mean / max;
      const title = `${h.ts.replace('T', ' ').slice(0, 16)}: ${h.orders_mean.toFixed(1)} orders expected (p90 ${h.orders_p90.toFixed(0)}), ${h.pickers} picker${h.pickers === 1 ? '' : 's'}, ${h.runners} runner${h.runners === 1 ? '' : 's'}`;
      return el('td', {
        class: `heat${peaks.has(h.ts) ? ' peak' : ''}`,
        style: `--heat:${share.toFixed(3)}`,
        title,
        'aria-label': title,
        dataset: { ts: h.ts, pickers: h.pickers, runners: h.runners },
      }, h.orders_mean >= 0.5 ? String(Math.round(h.orders_mean)) : '');
    })));
  const busiest = plan.daily_peaks.map((i) => plan.hours[i]).map((h) => el('li', { dataset: { ts: h.ts } },
    `${dayLabel(h.ts)} ${h.ts.slice(11, 16)}: about ${h.orders_mean.toFixed(0)} orders (p90 ${h.orders_p90.toFixed(0)}) – ${h.pickers} picker${h.pickers === 1 ? '' : 's'}, ${h.runners} runner${h.runners === 1 ? '' : 's'}`));
  const r = plan.rates;
  const rate = (x, unit) => `${x.per_hour} ${unit} an hour (${x.source === 'measured' ? `measured over ${x.samples} orders` : 'configured; not enough orders measured yet'})`;
  $('peak-body').replaceChildren(
    el('table', { class: 'heatmap', id: 'peak-map', 'aria-label': 'Expected orders per hour' }, el('thead', {}, head), el('tbody', {}, rows)),
    el('h4', { text: 'Busiest hour each day' }),
    busiest.length ? el('ul', { id: 'peak-list' }, busiest) : el('p', { class: 'muted', id: 'peak-list', text: 'no busy hour expected' }),
    el('p', { class: 'muted', id: 'peak-rates', text: `From ${plan.history_orders} orders over ${plan.history_days} days. A picker packs ${rate(r.orders_per_picker_hour, 'orders')}; a runner makes ${rate(r.deliveries_per_runner_hour, 'deliveries')}. Staff cover the p90 of each hour.` }));
}

async function loadPeak() {
  try {
    renderPeak(await api('GET', `/api/forecast/peak-hours?days=${$('peak-days').value}`));
  } catch (e) {
    message('peak-body', e.status === 409 ? 'No orders yet to plan peak hours from.' : `Could not plan peak hours: ${e.message}`, e.status === 409 ? 'muted' : 'error');
  }
}

// ---- A SKU's forecast ---------------------------------------------------------------

function renderForecast(f) {
  const W = 720; const H = 220; const pad = { l: 36, r: 8, t: 10, b: 24 };
  const all = [...f.history.map((h) => ({ ...h, past: true })), ...f.hours.map((h) => ({ ...h, past: false }))];
  const max = Math.max(1, ...f.history.map((h) => h.units), ...f.hours.map((h) => h.p90));
  const x = (i) => pad.l + (i / Math.max(1, all.length)) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const bw = Math.max(1, (W - pad.l - pad.r) / Math.max(1, all.length) - 0.5);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'forecast-chart', id: 'forecast-chart', role: 'img',
    'aria-label': `${f.sku}: ${f.history.length} hours sold and ${f.hours.length} hours forecast` });
  chart.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: 'axis' }));
  for (const v of [max / 2, max]) {
    chart.append(svg('text', { x: pad.l - 4, y: y(v) + 4, class: 'tick', 'text-anchor': 'end', text: v >= 10 ? v.toFixed(0) : v.toFixed(1) }));
  }
  f.history.forEach((h, i) => {
    if (h.units > 0 || h.censored) {
      chart.append(svg('rect', { x: x(i), y: y(h.units), width: bw, height: Math.max(0, y(0) - y(h.units)),
        class: h.censored ? 'actual censored' : 'actual', 'data-ts': h.ts }));
    }
  });
  const off = f.history.length;
  const band = f.hours.map((h, k) => `${x(off + k)},${y(h.p90)}`).concat(
    f.hours.map((h, k) => `${x(off + k)},${y(h.p50)}`).reverse()).join(' ');
  if (f.hours.length) {
    chart.append(svg('polygon', { points: band, class: 'band', id: 'forecast-band' }));
    chart.append(svg('polyline', { points: f.hours.map((h, k) => `${x(off + k)},${y(h.mean)}`).join(' '), class: 'mean', id: 'forecast-mean' }));
    chart.append(svg('line', { x1: x(off), x2: x(off), y1: pad.t, y2: y(0), class: 'now' }));
  }
  for (let i = 0; i < all.length; i += 24) {
    chart.append(svg('text', { x: x(i), y: H - 6, class: 'tick', text: all[i].ts.slice(5, 10) }));
  }
  const sold = f.history.reduce((s, h) => s + h.units, 0);
  const expected = f.hours.slice(0, 24).reduce((s, h) => s + h.mean, 0);
  const censored = f.history.filter((h) => h.censored).length;
  $('forecast-body').replaceChildren(chart,
    el('p', { class: 'legend' },
      el('span', { class: 'key actual' }), ' sold per hour ', el('span', { class: 'key censored' }), ' sold out (demand was at least this) ',
      el('span', { class: 'key band' }), ' p50–p90 ', el('span', { class: 'key mean' }), ' expected'),
    el('p', { id: 'forecast-summary', text: `${f.sku}: ${sold} sold in the last ${f.history.length} hours${censored ? `, ${censored} of them sold out` : ''}; about ${expected.toFixed(1)} expected in the next 24 hours (method: ${f.method}).` }));
}

async function loadForecast(sku) {
  state.sku = sku;
  if (!sku) return;
  try {
    renderForecast(await api('GET', `/api/forecast/${encodeURIComponent(sku)}?hours=168&history_hours=168`));
  } catch (e) {
    message('forecast-body', e.status === 404 ? `No product with SKU ${sku}.` : `Could not forecast ${sku}: ${e.message}`, 'error');
  }
}

// ---- Reorder list ---------------------------------------------------------------------

async function approve(supplier, lines, button) {
  button.disabled = true;
  try {
    const po = await api('POST', '/api/purchase-orders', {
      request_id: `ui-${supplier}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      supplier_id: supplier,
      note: 'approved from the reorder list',
      lines: lines.map((l) => ({ sku: l.sku, qty: l.qty })),
    });
    toast(`Purchase order ${po.po_id} drafted for ${supplier}`);
    await loadReorder();
  } catch (e) {
    toast(e.message, 'error');
    button.disabled = false;
  }
}

async function send(po, button) {
  button.disabled = true;
  try {
    await api('POST', `/api/purchase-orders/${encodeURIComponent(po.po_id)}/send`);
    toast(`Purchase order ${po.po_id} sent`);
    await loadReorder();
  } catch (e) {
    toast(e.message, 'error');
    button.disabled = false;
  }
}

function renderReorder(proposal, drafts) {
  const bySupplier = new Map();
  for (const l of proposal.lines) {
    if (l.qty <= 0 || l.draft_po_id) continue;
    if (!bySupplier.has(l.supplier_id)) bySupplier.set(l.supplier_id, []);
    bySupplier.get(l.supplier_id).push(l);
  }
  const groups = [...bySupplier.entries()].map(([supplier, lines]) => el('section', { class: 'supplier', dataset: { supplier } },
    el('header', {}, el('h4', { text: `${supplier}: ${lines.length} SKU${lines.length === 1 ? '' : 's'}` }),
      el('button', { type: 'button', class: 'approve', onclick: (ev) => approve(supplier, lines, ev.currentTarget) }, `Approve order for ${supplier}`)),
    el('table', { class: 'compact' },
      el('thead', {}, el('tr', {}, ...['SKU', 'Order', 'On hand', 'On order', 'Order up to', 'Why'].map((t) => el('th', { scope: 'col', text: t })))),
      el('tbody', {}, lines.map((l) => el('tr', { dataset: { sku: l.sku } },
        el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => { $('forecast-sku').value = l.sku; loadForecast(l.sku); } }, l.sku)),
        el('td', { class: 'num', text: String(l.qty) }),
        el('td', { class: 'num', text: String(l.on_hand) }),
        el('td', { class: 'num', text: String(l.on_order) }),
        el('td', { class: 'num', text: String(Math.round(l.order_up_to)) }),
        el('td', { text: l.reasons.map((r) => REASONS[r] || r.replaceAll('_', ' ')).join('; ') })))))));
  const draftRows = drafts.map((po) => el('li', { dataset: { po: po.po_id } },
    `${po.po_id} for ${po.supplier_id}: ${po.lines.length} line${po.lines.length === 1 ? '' : 's'}, drafted ${fmtTime(po.created_at_ms)} by ${po.created_by} `,
    el('button', { type: 'button', class: 'send', onclick: (ev) => send(po, ev.currentTarget) }, 'Send to supplier')));
  $('reorder-body').replaceChildren(
    groups.length ? el('div', { id: 'reorder-groups' }, groups) : el('p', { class: 'muted', id: 'reorder-groups', text: 'Nothing to order: every linked SKU is covered.' }),
    el('h4', { text: 'Drafts waiting to be sent' }),
    draftRows.length ? el('ul', { id: 'reorder-drafts' }, draftRows) : el('p', { class: 'muted', id: 'reorder-drafts', text: 'none' }));
}

async function loadReorder() {
  if (!atLeast('manager')) {
    $('reorder').hidden = true;
    return;
  }
  $('reorder').hidden = false;
  try {
    const [proposal, drafts] = await Promise.all([
      api('GET', '/api/replenishment/proposal?to_order=1', undefined, { timeoutMs: 120000 }),
      api('GET', '/api/purchase-orders?status=draft&limit=100'),
    ]);
    renderReorder(proposal, drafts.items);
  } catch (e) {
    message('reorder-body', `Could not read the reorder list: ${e.message}`, 'error');
  }
}

export function init() {
  $('peak-days').addEventListener('change', loadPeak);
  $('forecast-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    loadForecast($('forecast-sku').value.trim());
  });
  $('reorder-refresh').addEventListener('click', loadReorder);
}

// Read once the panel has been opened (the proposal refits forecasts: not on every page
// load), and again after each reconnect from then on.
export async function load() {
  if (!state.opened) return;
  await Promise.all([loadPeak(), loadReorder(), state.sku ? loadForecast(state.sku) : null]);
}

export function shown() {
  if (state.opened) return;
  state.opened = true;
  load();
}
