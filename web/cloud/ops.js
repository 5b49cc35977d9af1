// The cloud operations page, the fleet dashboard: orders per minute, delivery times
// against the promise, stores breaching it (with a drill-down per store), the pricing
// kill switch, notification health, an order lookup, and every store with its online
// state, sync lag, surge fee, open orders and availability, on a map coloured by state
// and in a table, refreshed every few seconds. Operators sign in with a user name and
// password (POST /v1/session): the session's HttpOnly cookie lets the page's reads
// through, and its token (kept for this tab only) goes in the Authorization header,
// which changes need. The one change a tab holding only the cookie may make is the
// kill switch, with the session's CSRF token (from GET /v1/session) in X-ShopEasy-CSRF.
import { renderBreaching, renderDrill, renderOrder, renderTiles, setLookup, surgeText } from './fleet.js';

const KEY = 'shopeasy.ops.session';
const $ = (id) => document.getElementById(id);
let timer = null;  // the watchdog that reopens a closed live stream
let live = null;   // the EventSource pushing the fleet summary
let refreshing = null;  // the redraw in flight
let queued = null;      // {pushed}: the redraw wanted after it (the newest only)
let csrf = '';
let drillStore = '';
let summary = null;
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
  if (csrf && method !== 'GET') headers['X-ShopEasy-CSRF'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    err.field = (data && data.error && data.error.field) || '';
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

// The window the delivery figures cover (the select in the delivery tile), in seconds.
const windowS = () => Number($('window').value) || 3600;

function lagText(s) {
  const v = s.fleet && s.fleet.sync_lag_s !== null && s.fleet.sync_lag_s !== undefined ? s.fleet.sync_lag_s : s.seconds_since_seen;
  if (v === undefined || v === null) return 'never synced';
  return v < 120 ? `${v.toFixed(1)} s` : `${Math.round(v / 60)} min`;
}

function oldestUnsyncedText(s) {
  const at = s.fleet && s.fleet.oldest_unsynced_change_ms;
  return at ? new Date(at).toLocaleTimeString() : '–';
}

// Redraws from a summary the live stream pushed (or reads one). A push that lands while
// a redraw is under way waits for it, and only the newest waiting one is drawn.
function refresh(pushed) {
  if (refreshing) {
    queued = { pushed };
    return refreshing;
  }
  refreshing = redraw(pushed).finally(() => {
    refreshing = null;
    if (queued) {
      const next = queued;
      queued = null;
      refresh(next.pushed);
    }
  });
  return refreshing;
}

async function redraw(pushed) {
  let r;
  try {
    let fleet;
    [r, fleet] = await Promise.all([get('/v1/stores'), pushed ? Promise.resolve(pushed) : get(`/v1/fleet/summary?window_s=${windowS()}`)]);
    summary = fleet;
    renderTiles(fleet);
    renderBreaching(fleet, openDrill);
    const byId = new Map(fleet.stores.map((f) => [f.id, f]));
    for (const s of r.stores || []) s.fleet = byId.get(s.id);
    if (drillStore) refreshDrill();
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
    const name = document.createElement('td');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link';
    open.dataset.store = s.id;
    open.textContent = `${s.name} (${s.id})`;
    open.title = 'Open this store\'s figures';
    open.addEventListener('click', () => openDrill(s.id));
    name.append(open);
    const surge = s.fleet ? s.fleet.surge : null;
    tr.append(
      name,
      cell(!s.active ? 'inactive' : s.online ? 'online' : 'offline', !s.active ? 'inactive' : s.online ? 'online' : 'offline'),
      cell(s.open ? 'yes' : 'no'),
      cell(lagText(s), 'num lag'),
      cell(oldestUnsyncedText(s), 'num'),
      cell(surgeText(surge), surge && surge.step > 0 ? 'num surge warn' : 'num surge'),
      cell(String(s.applied_changes ?? 0), 'num'),
      cell(s.fleet ? String(s.fleet.open_orders) : '–', 'num'),
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
      const surge = s.fleet && s.fleet.surge;
      const surging = surge && surge.step > 0 ? `, surge step ${surge.step}` : '';
      g.setAttribute('data-surge', surge ? String(surge.step) : '');
      const title = node('title', {});
      title.textContent = `${s.name} (${s.id}): ${state}${surging}`;
      g.append(title,
        node('circle', { class: 'area', cx: p.x, cy: p.y, r: s.service_radius_m || 1000, fill: COLOURS[state], stroke: COLOURS[state] }),
        node('circle', { cx: p.x, cy: p.y, r: 140, fill: COLOURS[state] }));
      const label = node('text', { x: p.x, y: p.y + 380, 'text-anchor': 'middle' });
      label.textContent = surging ? `${s.name} ↑${surge.step}` : s.name;
      g.append(label);
      root.append(g);
    }
  }
  $('store-map').replaceChildren(root);
  $('store-map').setAttribute('aria-label', `Map of ${placed.length} stores: ${placed.map((s) => `${s.name} ${stateOf(s)}${s.fleet && s.fleet.surge && s.fleet.surge.step > 0 ? ` surge step ${s.fleet.surge.step}` : ''}`).join(', ')}`);
}

// A store's drill-down, kept fresh with the rest of the page while it is open.
async function refreshDrill() {
  const id = drillStore;
  try {
    const d = await get(`/v1/fleet/stores/${encodeURIComponent(id)}?window_s=${windowS()}`);
    if (id !== drillStore) return;
    renderDrill(d);
    $('drill-error').textContent = '';
  } catch (e) {
    if (id === drillStore) $('drill-error').textContent = e.message;
  }
}

async function openDrill(id) {
  drillStore = id;
  $('drill').hidden = false;
  await refreshDrill();
  $('drill').focus();
}

function closeDrill() {
  const id = drillStore;
  drillStore = '';
  $('drill').hidden = true;
  const back = document.querySelector(`#stores button[data-store="${CSS.escape(id)}"]`);
  if (back) back.focus();
}

async function lookupOrder(id) {
  $('order-id').value = id;
  $('order-error').textContent = '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    $('order-result').replaceChildren();
    $('order-error').textContent = 'An order id is 1 to 64 letters, digits, _ or -';
    return;
  }
  try {
    renderOrder(await get(`/v1/orders/${encodeURIComponent(id)}`));
  } catch (e) {
    $('order-result').replaceChildren();
    $('order-error').textContent = e.status === 404 ? `No order ${id}` : e.message;
  }
}
setLookup(lookupOrder);

// The kill switch: asks first, then sends only {"enabled"} (PUT /v1/pricing/enabled).
async function flipKillSwitch() {
  if (!summary) return;
  const on = summary.pricing.enabled;
  const question = on
    ? 'Turn dynamic pricing off? Every store charges base prices and the base delivery fee from the next quote.'
    : 'Turn dynamic pricing back on?';
  if (!window.confirm(question)) return;
  $('pricing-error').textContent = '';
  try {
    await call('PUT', '/v1/pricing/enabled', { enabled: !on });
    await refresh();
  } catch (e) {
    $('pricing-error').textContent = e.status === 403 ? `Refused: ${e.message}` : e.message;
  }
}

// The operator's synonym groups (GET/PUT /v1/search/synonyms), one group per line.
function groupsToText(groups) {
  return groups.map((g) => g.join(', ')).join('\n');
}
function textToGroups(text) {
  return text.split('\n').map((line) => line.split(',').map((w) => w.trim()).filter(Boolean)).filter((g) => g.length);
}
async function loadSynonyms() {
  try {
    const r = await get('/v1/search/synonyms');
    $('synonyms-text').value = groupsToText(r.groups || []);
    $('synonyms-status').textContent = `${(r.groups || []).length} groups of your own`;
  } catch (e) {
    $('synonyms-status').textContent = `Could not read the synonyms: ${e.message}`;
  }
}
async function saveSynonyms() {
  const groups = textToGroups($('synonyms-text').value);
  // A line with one spelling is not a group; say which before the server does.
  const single = groups.findIndex((g) => g.length < 2);
  if (single >= 0) {
    $('synonyms-status').textContent = `Line ${single + 1} has one spelling: a group needs two or more, separated by commas`;
    return;
  }
  $('synonyms-status').textContent = 'Saving…';
  try {
    const r = await call('PUT', '/v1/search/synonyms', { groups });
    $('synonyms-text').value = groupsToText(r.groups || []);
    $('synonyms-status').textContent = `Saved: ${(r.groups || []).length} groups, searchable now`;
  } catch (e) {
    // The server names the group that failed ("groups[3]" is line 4).
    const m = /groups\[(\d+)\]/.exec(e.field || '');
    $('synonyms-status').textContent = m ? `Line ${Number(m[1]) + 1}: ${e.message}` : `Not saved: ${e.message}`;
  }
}

function start(user = '', token = '') {
  if (token) csrf = token;
  $('signin-form').hidden = true;
  $('main').hidden = false;
  if (user) $('who').textContent = `signed in as ${user}`;
  refresh();
  loadSynonyms();
  openLive();
  clearInterval(timer);
  // EventSource reconnects by itself after a drop; one the server refused (a session
  // that ended) stays closed: a normal read then finds out why, and it is reopened.
  timer = setInterval(() => {
    if (!live || live.readyState === EventSource.CLOSED) {
      refresh().then(() => { if (!$('main').hidden) openLive(); });
    }
  }, 5000);
}

// The fleet summary pushed by the cloud (GET /v1/fleet/events, sent with the session
// cookie) for the window shown.
function openLive() {
  if (live) live.close();
  live = new EventSource(`/v1/fleet/events?window_s=${windowS()}`);
  live.addEventListener('summary', (ev) => {
    $('live').textContent = 'live';
    $('live').classList.add('on');
    refresh(JSON.parse(ev.data));
  });
  live.addEventListener('error', () => {
    $('live').textContent = 'reconnecting';
    $('live').classList.remove('on');
  });
}

function signedOut(message = '') {
  sessionStorage.removeItem(KEY);
  csrf = '';
  clearInterval(timer);
  if (live) live.close();
  live = null;
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
    start(r.user, r.csrf_token);
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
$('kill-switch').addEventListener('click', flipKillSwitch);
$('synonyms-form').addEventListener('submit', (ev) => { ev.preventDefault(); saveSynonyms(); });
$('drill-close').addEventListener('click', closeDrill);
$('window').addEventListener('change', () => { refresh(); openLive(); });
$('drill').addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeDrill(); });
$('order-form').addEventListener('submit', (ev) => { ev.preventDefault(); lookupOrder($('order-id').value.trim()); });
get('/v1/session').then((r) => start(r.user, r.csrf_token)).catch(() => signedOut());
