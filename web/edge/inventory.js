// Live inventory: every SKU of the store in a virtualised list (only the rows on screen
// exist in the document, so 10,000 SKUs scroll as smoothly as 10), searched by name,
// SKU or barcode, and by the store's product search for typos and Hinglish words
// ("doodh" finds milk: /api/search), with low-stock and expiring rows highlighted; a SKU's stock per bin
// and lot on the side, and the adjustment dialog for managers and admins.
import { api, atLeast, ApiError } from './api.js';
import { el, $, perFrame, daysUntil, toast, fmtTime } from './util.js';
import * as live from './live.js';

const ROW = 28;
const OVERSCAN = 8;
const PAGE = 500;

const state = {
  items: [],            // every SKU, sorted by SKU
  bySku: new Map(),
  view: [],             // items shown after search / filter
  query: '',
  lowOnly: false,
  barcodeHits: null,    // SKUs the server matched for a barcode query or a product search
  expiring: new Map(),  // sku -> earliest expiry date among expiring or expired lots
  selected: null,
  flashes: new Map(),   // sku -> time of its last live change
  generation: 0,
  pool: [],
  // Stock changes that arrived while a load was running, by SKU: a page read before a
  // change may arrive after it, and must not put the older figures back on screen.
  changedDuringLoad: null,
};

// Load times: *Ms from the start of the load, *At since navigation start.
export const metrics = { firstRowsMs: null, firstRowsAt: null, allLoadedMs: null, allLoadedAt: null, skus: 0 };

function normalise(item) {
  item.hay = `${item.sku}\u0000${item.name}`.toLowerCase();
  return item;
}

function isLow(item) { return item.reorder_point > 0 && item.available < item.reorder_point; }

function matches(item) {
  if (state.lowOnly && !item.low && !state.expiring.has(item.sku)) return false;
  if (!state.query) return true;
  if (state.barcodeHits && state.barcodeHits.has(item.sku)) return true;
  return item.hay.includes(state.query);
}

function refilter() {
  state.view = state.query || state.lowOnly ? state.items.filter(matches) : state.items;
  $('stock-spacer').style.height = `${state.view.length * ROW}px`;
  $('stock-count').textContent = state.view.length === state.items.length
    ? `${state.items.length} SKUs`
    : `${state.view.length} of ${state.items.length} SKUs`;
  render();
}
const refilterSoon = perFrame(refilter);

function makeRow() {
  const row = el('div', { class: 'vrow', role: 'row' });
  for (let i = 0; i < 7; i++) row.append(el('span', { class: i >= 3 && i <= 5 ? 'num' : '' }));
  row.addEventListener('click', () => select(row.dataset.sku));
  $('stock-scroll').append(row);
  return row;
}

function render() {
  const scroller = $('stock-scroll');
  if (!scroller || scroller.offsetParent === null) return;
  const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - OVERSCAN);
  const count = Math.ceil(scroller.clientHeight / ROW) + 2 * OVERSCAN;
  const last = Math.min(state.view.length, first + count);
  while (state.pool.length < count) state.pool.push(makeRow());
  const now = performance.now();
  for (let p = 0; p < state.pool.length; p++) {
    const row = state.pool[p];
    const i = first + p;
    if (i >= last) { row.hidden = true; continue; }
    const it = state.view[i];
    row.hidden = false;
    row.style.transform = `translateY(${i * ROW}px)`;
    if (row.dataset.sku !== it.sku) row.dataset.sku = it.sku;
    const cells = row.children;
    cells[0].textContent = it.sku;
    cells[1].textContent = it.name;
    cells[2].textContent = it.category;
    cells[3].textContent = it.on_hand;
    cells[4].textContent = it.reserved;
    cells[5].textContent = it.available;
    cells[6].textContent = it.home_bin || '';
    row.classList.toggle('low', it.low && it.available > 0);
    row.classList.toggle('out', it.low && it.available <= 0);
    row.classList.toggle('expiring', state.expiring.has(it.sku));
    row.classList.toggle('selected', it.sku === state.selected);
    const flashed = state.flashes.get(it.sku);
    row.classList.toggle('flash', flashed !== undefined && now - flashed < 1000);
  }
}
const renderSoon = perFrame(render);

function upsert(item) {
  normalise(item);
  const existing = state.bySku.get(item.sku);
  if (existing) {
    Object.assign(existing, item);
    return existing;
  }
  state.bySku.set(item.sku, item);
  // Keep SKU order: binary search for the slot.
  let lo = 0;
  let hi = state.items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (state.items[mid].sku < item.sku) lo = mid + 1; else hi = mid;
  }
  state.items.splice(lo, 0, item);
  return item;
}

// Reads every SKU page by page; the first page is on screen before the rest arrives.
export async function load() {
  const generation = ++state.generation;
  state.changedDuringLoad = new Map();
  const started = performance.now();
  const items = [];
  let cursor = null;
  let firstShown = false;
  do {
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    // A small first page puts rows on screen sooner; big pages fetch the rest.
    const page = await api('GET', `/api/stock?limit=${firstShown ? PAGE : 60}${q}`);
    if (generation !== state.generation) return;
    for (const it of page.items) items.push(withLaterChange(normalise(it)));
    cursor = page.next_cursor;
    if (!firstShown) {
      firstShown = true;
      state.items = items.slice();
      state.bySku = new Map(state.items.map((it) => [it.sku, it]));
      refilter();
      metrics.firstRowsMs = performance.now() - started;
      metrics.firstRowsAt = performance.now();
    }
  } while (cursor);
  state.items = items;
  state.bySku = new Map(items.map((it) => [it.sku, it]));
  state.changedDuringLoad = null;
  metrics.skus = items.length;
  refilter();
  metrics.allLoadedMs = performance.now() - started;
  metrics.allLoadedAt = performance.now();
  await loadExpiring();
}

async function loadExpiring() {
  try {
    const r = await api('GET', '/api/alerts');
    state.expiring.clear();
    for (const a of r.alerts) {
      if (a.type === 'expiring_soon' || a.type === 'expired_on_hand') noteExpiry(a.sku, a.expiry);
    }
    renderSoon();
  } catch (e) { /* the list still works without the highlights */ }
}

function noteExpiry(sku, expiry) {
  const prev = state.expiring.get(sku);
  if (!prev || expiry < prev) state.expiring.set(sku, expiry);
}

async function select(sku) {
  state.selected = sku;
  renderSoon();
  await showDetail(sku);
}

async function showDetail(sku) {
  const box = $('sku-detail');
  let item;
  try {
    item = await api('GET', `/api/stock/${encodeURIComponent(sku)}`);
  } catch (e) {
    box.hidden = false;
    box.replaceChildren(el('p', { class: 'error', text: e.message }));
    return;
  }
  if (state.selected !== sku) return;
  const rows = item.stock.map((s) => {
    let cls = '';
    let note = '';
    if (s.expiry) {
      const days = daysUntil(s.expiry);
      if (days < 0) { cls = 'expired'; note = ' (expired)'; } else if (days <= 3) { cls = 'expiring'; note = ` (${days} d)`; }
    }
    return el('tr', { dataset: { bin: s.bin } },
      el('td', { text: s.bin }), el('td', { text: s.lot || '–' }),
      el('td', { class: cls, text: s.expiry ? s.expiry + note : '–' }),
      el('td', { class: 'num', text: s.on_hand }), el('td', { class: 'num', text: s.reserved }));
  });
  const actions = el('div', { class: 'actions' });
  if (atLeast('manager')) {
    actions.append(el('button', { id: 'adjust-open', type: 'button', onclick: () => openAdjust(item) }, 'Adjust stock…'));
  }
  box.hidden = false;
  box.replaceChildren(
    el('h3', { text: item.name }),
    el('div', { class: 'muted', text: `${item.sku} · ${item.category} · ${(item.barcodes || []).join(', ')}` }),
    el('p', {}, `On hand ${item.on_hand}, reserved ${item.reserved}, available `, el('strong', { id: 'detail-available', text: item.available }),
      item.reorder_point ? ` (reorder at ${item.reorder_point})` : ''),
    actions,
    el('table', { id: 'detail-stock' },
      el('thead', {}, el('tr', {}, ...['Bin', 'Lot', 'Expiry', 'On hand', 'Reserved'].map((h) => el('th', { text: h })))),
      el('tbody', {}, rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'no stock in any bin' }))])),
    el('h4', { text: 'Recent movements' }),
    el('table', {}, el('tbody', {}, (item.recent_movements || []).slice(0, 10).map((m) => el('tr', {},
      el('td', { text: fmtTime(m.ts_ms) }), el('td', { text: m.reason }), el('td', { class: 'num', text: m.delta > 0 ? `+${m.delta}` : m.delta }),
      el('td', { text: m.bin }), el('td', { text: m.actor })))))
  );
}

// The adjustment dialog. Only managers and admins may open it; the server refuses a
// picker's adjustment anyway, this keeps the button and dialog away from them.
export function openAdjust(item) {
  if (!atLeast('manager')) {
    toast('Only a manager can adjust stock', 'error');
    return false;
  }
  const dlg = $('adjust-dialog');
  const form = $('adjust-form');
  form.reset();
  $('adjust-error').textContent = '';
  $('adjust-sku').textContent = item.sku;
  $('adjust-bins').replaceChildren(...item.stock.map((s) => el('option', { value: s.bin })));
  if (item.stock.length) {
    $('adjust-bin').value = item.stock[0].bin;
    $('adjust-lot').value = item.stock[0].lot || '';
  } else if (item.home_bin) {
    $('adjust-bin').value = item.home_bin;
  }
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const qty = Number(f.get('qty'));
    const body = { bin: f.get('bin'), reason: f.get('reason') };
    if (f.get('lot')) body.lot = f.get('lot');
    if (f.get('note')) body.note = f.get('note');
    if (f.get('mode') === 'set') body.set = qty; else body.adjust = qty;
    if (!Number.isInteger(qty) || (body.adjust === 0)) {
      $('adjust-error').textContent = 'Enter a whole number (not 0 for a change)';
      return;
    }
    $('adjust-save').disabled = true;
    try {
      await api('PATCH', `/api/inventory/${encodeURIComponent(item.sku)}`, body);
      dlg.close();
      toast(`Stock of ${item.sku} adjusted`);
      showDetail(item.sku);
    } catch (e) {
      $('adjust-error').textContent = e instanceof ApiError && e.field ? `${e.field}: ${e.message}` : e.message;
    } finally {
      $('adjust-save').disabled = false;
    }
  };
  $('adjust-cancel').onclick = () => dlg.close();
  dlg.showModal();
  return true;
}

let barcodeTimer = null;
// Asks the server for the SKUs a query names that the list's own substring match may
// miss (`path` answers {items: [{sku, ...}]}); `keep` adds rows the list has not loaded.
function askServer(path, keep) {
  const asked = state.query;
  barcodeTimer = setTimeout(async () => {
    try {
      const r = await api('GET', `${path}${encodeURIComponent(asked)}&limit=50`);
      if (state.query !== asked) return;
      state.barcodeHits = new Set(r.items.map((it) => it.sku));
      if (keep) for (const it of r.items) if (!state.bySku.has(it.sku)) upsert(it);
      refilter();
    } catch (e) { /* local matches stay */ }
  }, 120);
}

function onSearch(text) {
  state.query = text.trim().toLowerCase();
  state.barcodeHits = null;
  refilter();
  clearTimeout(barcodeTimer);
  // Barcodes live on the server (a product may have several).
  if (/^\d{8,14}$/.test(state.query)) askServer('/api/stock?q=', true);
  // Misspellings and Hinglish words the plain substring match misses: the store's
  // product search answers them from its own catalog, offline too.
  else if (state.query.length >= 2 && /[a-z0-9]/.test(state.query)) askServer('/api/search?q=', false);
}

let detailTimer = null;
// A loaded row with any newer change seen during the load applied to it.
function withLaterChange(item) {
  const change = state.changedDuringLoad?.get(item.sku);
  if (change && change.version > (item.version ?? 0)) applyChange(item, change);
  return item;
}

function applyChange(item, b) {
  item.on_hand = b.sku_on_hand;
  item.reserved = b.sku_reserved;
  item.available = b.sku_available;
  item.version = b.version;
  item.low = isLow(item);
}

function onStockChanged(_type, b) {
  if (state.changedDuringLoad) {
    const seen = state.changedDuringLoad.get(b.sku);
    if (!seen || b.version > seen.version) state.changedDuringLoad.set(b.sku, b);
  }
  const item = state.bySku.get(b.sku);
  if (!item) {
    api('GET', `/api/stock/${encodeURIComponent(b.sku)}`).then((it) => { delete it.stock; upsert(it); refilterSoon(); }).catch(() => {});
    return;
  }
  applyChange(item, b);
  if (b.expiry && daysUntil(b.expiry) <= 3 && b.on_hand_after > 0) noteExpiry(b.sku, b.expiry);
  state.flashes.set(b.sku, performance.now());
  if (state.flashes.size > 2000) state.flashes.clear();
  if (state.lowOnly) refilterSoon(); else renderSoon();
  if (state.selected === b.sku) {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(() => showDetail(b.sku), 150);
  }
}

function onProduct(_type, p) {
  const existing = state.bySku.get(p.sku);
  upsert({
    on_hand: 0, reserved: 0, available: 0, version: 0, ...existing,
    sku: p.sku, name: p.name, category: p.category, price_cents: p.price_cents, unit: p.unit,
    reorder_point: p.reorder_point, home_bin: p.home_bin,
  });
  const it = state.bySku.get(p.sku);
  it.low = isLow(it);
  refilterSoon();
}

export function init() {
  $('stock-search').addEventListener('input', (e) => onSearch(e.target.value));
  $('stock-low-only').addEventListener('change', (e) => { state.lowOnly = e.target.checked; refilter(); });
  $('stock-scroll').addEventListener('scroll', renderSoon, { passive: true });
  window.addEventListener('resize', renderSoon);
  live.on('stock.changed', onStockChanged);
  live.on('product.upserted', onProduct);
  live.on('alert.raised', (_t, a) => {
    if (a.kind === 'expiring_soon' || a.kind === 'expired_on_hand') { noteExpiry(a.detail.sku, a.detail.expiry); renderSoon(); }
  });
  // Flashes fade: one more render after they expire.
  setInterval(() => { if (state.flashes.size) { state.flashes.clear(); renderSoon(); } }, 1500);
}

export function shown() { render(); }
export function currentItem(sku) { return state.bySku.get(sku); }
