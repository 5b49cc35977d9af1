// The cloud operations page: every store with its online state, sync lag, open orders
// and availability, on a map coloured by state and in a table, refreshed every few
// seconds. Operators sign in with a user name and password (POST /v1/session): the
// session's HttpOnly cookie lets the page's reads through, and its token (kept for this
// tab only) goes in the Authorization header, which changes need.
const KEY = 'shopeasy.ops.session';
const $ = (id) => document.getElementById(id);
let timer = null;
const availability = new Map();  // store id -> {share, at}

function cell(text, cls = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

async function call(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}
const get = (path) => call('GET', path);

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
    if (e.status === 401 || e.status === 403) { signedOut(e.status === 403 ? 'This account may not see the stores' : 'Your session has ended; sign in again'); return; }
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
  drawMap(stores);
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

// The state a store's dot shows, worst first.
function stateOf(s) {
  if (!s.active) return 'inactive';
  if (!s.online) return 'offline';
  if ((s.quarantined_changes ?? 0) > 0) return 'quarantined';
  if ((s.seconds_since_seen ?? Infinity) > 60) return 'lagging';
  return 'online';
}
const COLOURS = { online: '#067647', lagging: '#dc6803', quarantined: '#b42318', offline: '#7a271a', inactive: '#98a2b3' };

// Every store's circle on a flat projection in metres, drawn here (nothing fetched).
function drawMap(stores) {
  const placed = stores.filter((s) => Number.isFinite(s.lat) && Number.isFinite(s.lon));
  const NS = 'http://www.w3.org/2000/svg';
  const node = (tag, attrs) => { const n = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v)); return n; };
  const root = node('svg', { preserveAspectRatio: 'xMidYMid meet' });
  if (placed.length) {
    const lat0 = placed.reduce((a, s) => a + s.lat, 0) / placed.length;
    const lon0 = placed.reduce((a, s) => a + s.lon, 0) / placed.length;
    const k = 111320;
    const xy = (s) => ({ x: (s.lon - lon0) * Math.cos((lat0 * Math.PI) / 180) * k, y: -(s.lat - lat0) * k });
    let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
    for (const s of placed) {
      const p = xy(s); const r = s.service_radius_m || 1000;
      minX = Math.min(minX, p.x - r); maxX = Math.max(maxX, p.x + r); minY = Math.min(minY, p.y - r); maxY = Math.max(maxY, p.y + r);
    }
    const pad = 300;
    root.setAttribute('viewBox', `${minX - pad} ${minY - pad} ${maxX - minX + 2 * pad} ${maxY - minY + 2 * pad}`);
    for (const s of placed) {
      const p = xy(s);
      const state = stateOf(s);
      const g = node('g', { 'data-store': s.id, 'data-state': state });
      const title = node('title', {});
      title.textContent = `${s.name} (${s.id}): ${state}`;
      g.append(title,
        node('circle', { class: 'area', cx: p.x, cy: p.y, r: s.service_radius_m || 1000, fill: COLOURS[state], stroke: COLOURS[state] }),
        node('circle', { cx: p.x, cy: p.y, r: 140, fill: COLOURS[state] }));
      const label = node('text', { x: p.x, y: p.y + 380, 'text-anchor': 'middle' });
      label.textContent = s.name;
      g.append(label);
      root.append(g);
    }
  }
  $('store-map').replaceChildren(root);
  $('store-map').setAttribute('aria-label', `Map of ${placed.length} stores: ${placed.map((s) => `${s.name} ${stateOf(s)}`).join(', ')}`);
}

function start(user = '') {
  $('signin-form').hidden = true;
  $('main').hidden = false;
  if (user) $('who').textContent = `signed in as ${user}`;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 5000);
}

function signedOut(message = '') {
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  $('main').hidden = true;
  $('signin-form').hidden = false;
  $('signin-error').textContent = message;
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    const r = await call('POST', '/v1/session', { user: $('signin-user').value.trim(), password: $('signin-password').value });
    sessionStorage.setItem(KEY, r.token);
    $('signin-password').value = '';
    start(r.user);
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'Wrong user name or password' : e.message;
  }
});
$('signout').addEventListener('click', async () => {
  await call('DELETE', '/v1/session').catch(() => {});
  signedOut();
});
$('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
$('search-q').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
$('search-store').addEventListener('change', search);
// A session from an earlier visit (the cookie) signs the page in without asking.
get('/v1/session').then((r) => start(r.user)).catch(() => signedOut());
