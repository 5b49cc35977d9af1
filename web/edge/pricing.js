// Pricing: what the cloud says about this store's prices, as the store last received
// it: whether dynamic pricing is on, the delivery fee and its surge step, the SKUs
// whose price here is off base with the rule and reason, the lots marked down and the
// store's overrides. The edge keeps it across restarts, so with the cloud out of reach
// the panel still shows the last word, with its age.
import { api } from './api.js';
import { el, $, fmtTime, fmtAge } from './util.js';
import * as live from './live.js';

const state = { data: null };

const rupees = (cents) => (typeof cents === 'number' ? `₹${(cents / 100).toFixed(2)}` : '–');

function table(id, head, rows, empty) {
  if (!rows.length) return el('div', { class: 'muted', id, text: empty });
  return el('table', { class: 'pricing', id },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { text: h })))),
    el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', { text: String(c) }))))));
}

function render() {
  const root = $('pricing-view');
  const d = state.data;
  if (!d) { root.replaceChildren(el('div', { class: 'muted', text: 'Loading…' })); return; }
  if (!d.following) {
    root.replaceChildren(el('div', { class: 'na-box', id: 'pricing-na', text: d.reason || 'This store does not sync with a cloud' }));
    return;
  }
  const v = d.view;
  const reach = d.cloud_reachable ? 'cloud answering' : `cloud not answering${d.last_error ? `: ${d.last_error}` : ''}`;
  const age = d.age_ms >= 0 ? `received ${fmtAge(d.age_ms)} ago` : 'nothing received yet';
  if (!v) {
    root.replaceChildren(el('div', { class: 'muted', id: 'pricing-status', text: `${age} · ${reach}` }));
    return;
  }
  const fee = v.delivery_fee || {};
  const surge = fee.step > 0 ? `surge step ${fee.step}` : 'no surge';
  root.replaceChildren(
    el('div', { class: `pricing-state ${v.enabled ? 'on' : 'off'}`, id: 'pricing-state' },
      el('strong', { text: v.enabled ? 'Dynamic pricing on' : 'Dynamic pricing OFF: base prices everywhere' }),
      el('span', { id: 'pricing-fee', text: ` · delivery fee ${rupees(fee.amount_cents)} (${surge}${fee.stale_signal ? ', load signal stale' : ''})` })),
    el('div', { class: 'muted', id: 'pricing-fee-reason', text: fee.reason || '' }),
    el('div', { class: 'muted', id: 'pricing-status', text: `${age} · ${reach} · version ${v.version}${v.truncated ? ' · lists cut at 5,000' : ''}` }),
    el('h3', { text: `Prices off base (${v.prices.length})` }),
    table('pricing-prices', ['SKU', 'Price', 'Base', 'Rule', 'Why', 'Since'],
      v.prices.map((p) => [p.sku, rupees(p.price_cents), rupees(p.base_cents), p.rule, p.reason, fmtTime(p.since_ms)]),
      'Every SKU is at its base price'),
    el('h3', { text: `Lots marked down (${v.markdowns.length})` }),
    table('pricing-markdowns', ['SKU', 'Lot', 'Expires', 'Units', 'Price', 'Base', 'Off', 'Why'],
      v.markdowns.map((m) => [m.sku, m.lot, fmtTime(m.expires_ms), m.units, rupees(m.price_cents), rupees(m.base_cents), `${m.off_bp / 100}%`, m.reason]),
      'No lot is marked down'),
    el('h3', { text: `Overrides for this store (${v.overrides.length})` }),
    table('pricing-overrides', ['SKU', 'Base', 'MRP', 'Floor'],
      v.overrides.map((o) => [o.sku, rupees(o.base_cents), rupees(o.mrp_cents), o.floor_cents === null ? 'none (never repriced)' : rupees(o.floor_cents)]),
      'No store overrides'));
}

export async function load() {
  state.data = await api('GET', '/api/pricing');
  render();
}

export function init() {
  live.on('pricing.updated', () => { load().catch(() => {}); });
}
