// The cloud operations page: every store with its online state, sync lag, open orders
// and availability, refreshed every few seconds. The admin token is typed in and kept
// for this browser tab only.
const KEY = 'shopeasy.ops.token';
const $ = (id) => document.getElementById(id);
let timer = null;
const availability = new Map();  // store id -> {share, at}

function cell(text, cls = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function get(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` }, cache: 'no-store' });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

// Share of the store's SKUs with stock to sell, from the cloud's replica of its stock.
// Read at most once a minute per store: it lists every SKU.
async function refreshAvailability(id) {
  const known = availability.get(id);
  if (known && Date.now() - known.at < 60000) return;
  availability.set(id, { share: known ? known.share : null, at: Date.now() });
  try {
    const r = await get(`/v1/stores/${encodeURIComponent(id)}/replica`);
    const items = r.items || [];
    const sellable = items.filter((i) => i.on_hand - i.reserved > 0).length;
    availability.set(id, { share: items.length ? sellable / items.length : null, count: items.length, at: Date.now() });
  } catch (e) { /* shown as unknown */ }
}

function lagText(s) {
  if (s.seconds_since_seen === undefined) return 'never synced';
  const v = s.seconds_since_seen;
  return v < 120 ? `${v.toFixed(1)} s` : `${Math.round(v / 60)} min`;
}

async function refresh() {
  let r;
  try {
    r = await get('/v1/stores');
  } catch (e) {
    if (e.status === 401 || e.status === 403) { forget(e.status === 403 ? 'That token is not an admin token' : 'Token not accepted'); return; }
    $('status').textContent = `cloud unreachable: ${e.message}`;
    return;
  }
  const stores = r.stores || [];
  await Promise.all(stores.map((s) => refreshAvailability(s.id)));
  let online = 0;
  $('stores').replaceChildren(...stores.map((s) => {
    if (s.online) online++;
    const tr = document.createElement('tr');
    tr.dataset.store = s.id;
    const lagging = s.active && (!s.online || (s.seconds_since_seen ?? Infinity) > 60);
    // Quarantined changes wait for a person (GET /v1/stores/{id}/quarantine lists them).
    const quarantined = s.quarantined_changes ?? 0;
    tr.className = [lagging ? 'lagging' : '', quarantined > 0 ? 'quarantined' : ''].filter(Boolean).join(' ');
    const a = availability.get(s.id);
    tr.append(
      cell(`${s.name} (${s.id})`),
      cell(!s.active ? 'inactive' : s.online ? 'online' : 'offline', !s.active ? 'inactive' : s.online ? 'online' : 'offline'),
      cell(s.open ? 'yes' : 'no'),
      cell(lagText(s), 'num'),
      cell(String(s.applied_changes ?? 0), 'num'),
      cell(s.open_orders !== undefined ? String(s.open_orders) : '–', 'num'),
      cell(String(quarantined), quarantined > 0 ? 'num warn' : 'num'),
      cell(String(s.resyncs ?? 0), 'num'),
      cell(a && a.share !== null && a.share !== undefined ? `${Math.round(a.share * 100)}% of ${a.count}` : '–', 'num'));
    return tr;
  }));
  fillSearchStores(stores);
  $('summary').textContent = `${stores.length} stores, ${online} online`;
  $('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

// Product search as a customer at a store's place would see it (GET /api/suggest): the
// store the cloud would choose there, its live availability, every word matched.
function fillSearchStores(stores) {
  const select = $('search-store');
  const chosen = select.value;
  select.replaceChildren(...stores.filter((s) => s.active && s.geohash).map((s) => {
    const option = document.createElement('option');
    option.value = s.geohash;
    option.textContent = `${s.name} (${s.id})`;
    return option;
  }));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

let searchTimer = null;
let searchSeq = 0;
async function search() {
  const q = $('search-q').value.trim();
  const area = $('search-store').value;  // the store's geohash
  const seq = ++searchSeq;
  if (!q || !area) {
    $('search-rows').replaceChildren();
    $('search-status').textContent = '';
    return;
  }
  try {
    const r = await get(`/api/suggest?q=${encodeURIComponent(q)}&geo_hash=${encodeURIComponent(area)}&limit=10`);
    if (seq !== searchSeq) return;  // a later keystroke's answer wins
    const items = r.items || [];
    $('search-rows').replaceChildren(...items.map((i) => {
      const tr = document.createElement('tr');
      tr.dataset.sku = i.sku;
      if (!i.in_stock) tr.className = 'out';
      tr.append(cell(i.sku), cell(i.name), cell((i.price_cents / 100).toFixed(2), 'num'),
        cell(i.in_stock ? String(i.available) : 'out of stock', 'num'));
      return tr;
    }));
    $('search-status').textContent = items.length
      ? `${items.length} from ${r.store ? r.store.name : 'the serving store'}`
      : 'nothing matches every word';
  } catch (e) {
    if (seq !== searchSeq) return;
    $('search-rows').replaceChildren();
    $('search-status').textContent = e.message;
  }
}

function start() {
  $('token-form').hidden = true;
  $('main').hidden = false;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 5000);
}

function forget(message = '') {
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  $('main').hidden = true;
  $('token-form').hidden = false;
  $('token-error').textContent = message;
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $('token').value.trim());
  $('token').value = '';
  start();
});
$('forget').addEventListener('click', () => forget());
$('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
$('search-q').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
$('search-store').addEventListener('change', search);
if (sessionStorage.getItem(KEY)) start(); else forget();
