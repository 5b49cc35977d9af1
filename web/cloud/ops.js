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
  $('summary').textContent = `${stores.length} stores, ${online} online`;
  $('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
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
if (sessionStorage.getItem(KEY)) start(); else forget();
