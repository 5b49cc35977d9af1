// The customer app: sign in with a phone code, choose where to deliver, browse the
// serving store's catalog with live availability, search with suggestions, a cart
// priced by a quote (every fee shown; the order is placed with the quote's id, so the
// price cannot change at the last step), pay on the provider's page, then follow the
// order live (state, the runner on the map, the ETA counting down) and reorder from
// history. State that must survive a reload (cart, place, current order, the checkout's
// idempotency key) lives in localStorage; orders themselves live on the server.
import { api, ApiError, auth, deleteAccount, requestCode, signOut, verify, whenReachabilityChanges, whenSignedOut } from './api.js';
import { createMap, distanceM, geohash } from './map.js';
import { follow, readOrder } from './stream.js';
import { $, el, toast } from './util.js';

const STATE_KEY = 'shopeasy.shop.state';
const PAGE = 60;
const FINAL = new Set(['delivered', 'cancelled', 'refunded', 'failed']);
const STEPS = ['pending_payment', 'confirmed', 'accepted', 'picking', 'packed', 'out_for_delivery', 'delivered'];
const LABEL = {
  pending_payment: 'Waiting for payment', confirmed: 'Paid', routed: 'Sent to the store',
  accepted: 'The store accepted it', picking: 'Being picked', packed: 'Packed',
  out_for_delivery: 'On the way', delivered: 'Delivered', cancelled: 'Cancelled',
  refunded: 'Refunded', failed: 'Could not be delivered',
};

// ------------------------------------------------------------------ persisted state

const fresh = () => ({
  location: null,  // {lat, lon, label}
  saved: [],       // [{id, name, lat, lon}], a copy of GET /api/me/addresses
  cart: [],        // [{sku, name, unit, price_cents, qty}]
  names: {},       // sku -> name, for reorders
  order: null,     // the order being followed
  pay: {},         // order id -> confirm_url
  checkoutKey: '', // Idempotency-Key of the order being placed (kept across a reload)
});
const state = Object.assign(fresh(), (() => { try { return JSON.parse(localStorage.getItem(STATE_KEY)) || {}; } catch { return {}; } })());
const save = () => localStorage.setItem(STATE_KEY, JSON.stringify(state));

const money = (cents) => `${cents < 0 ? '−' : ''}₹${(Math.abs(cents) / 100).toFixed(2)}`;
const cartCount = () => state.cart.reduce((a, l) => a + l.qty, 0);

// ------------------------------------------------------------------ screens

let area = [];  // stores of the served area (GET /api/area)
const screens = ['signin', 'location', 'browse', 'cart', 'track', 'orders'];

function show(name) {
  $('loading').hidden = true;
  for (const s of screens) $(`screen-${s}`).hidden = s !== name;
  $('tabs').hidden = name === 'signin' || name === 'location';
  $('sign-out').hidden = !auth.signedIn();
  $('where').hidden = !state.location || name === 'signin';
  $('where-label').textContent = state.location ? state.location.label : '';
  for (const t of ['browse', 'cart', 'track', 'orders']) {
    const a = $(`tab-${t}`);
    if (t === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  $('tab-track').hidden = !state.order;
  const h = $(`screen-${name}`).querySelector('h1');
  if (h && document.activeElement === document.body) h.setAttribute('tabindex', '-1');
}

async function route() {
  const [name, arg] = location.hash.replace(/^#/, '').split('/');
  if (!auth.signedIn()) { showSignIn(); return; }
  if (!area.length) await loadArea();
  if (name === 'location' || !state.location) { showLocation(); return; }
  if (name === 'cart') { showCart(); return; }
  if (name === 'track' && (arg || state.order)) { showTrack(arg || state.order); return; }
  if (name === 'orders') { showOrders(); return; }
  showBrowse();
}

window.addEventListener('hashchange', route);
whenSignedOut(() => { toast('Please sign in again', 'error'); route(); });
$('sign-out').addEventListener('click', async () => { await signOut(); stopTracking(); location.hash = ''; route(); });
$('where').addEventListener('click', () => { location.hash = 'location'; });

// Offline: the shell comes from the service worker's cache (sw.js), so the page opens;
// this notice says why nothing new loads. Shown while the browser reports no network or
// the last call to the service failed, gone with the next call that gets an answer.
let serviceDown = false;
function renderOffline() {
  const p = $('offline');
  if (!navigator.onLine) {
    p.textContent = 'You are offline. Showing what this phone already has; ShopEasy carries on when the connection is back.';
  } else if (serviceDown) {
    p.textContent = 'Offline: the ShopEasy service is not answering. Showing what this phone already has; trying again as you go.';
  }
  p.hidden = navigator.onLine && !serviceDown;
}
whenReachabilityChanges((reached) => {
  if (serviceDown === !reached) return;
  serviceDown = !reached;
  renderOffline();
});
window.addEventListener('online', renderOffline);
window.addEventListener('offline', renderOffline);

function renderCartCount() {
  $('cart-count').textContent = String(cartCount());
  $('tab-cart').setAttribute('aria-label', `Cart, ${cartCount()} items`);
}

// ------------------------------------------------------------------ sign in

function showSignIn() {
  show('signin');
  const pending = sessionStorage.getItem('shopeasy.shop.phone');
  $('otp-form').hidden = !!pending;
  $('verify-form').hidden = !pending;
}

$('otp-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const phone = $('phone').value.trim();
  $('signin-error').textContent = '';
  try {
    await requestCode(phone);
    sessionStorage.setItem('shopeasy.shop.phone', phone);
    showSignIn();
    $('code').focus();
  } catch (e) {
    $('signin-error').textContent = e.field === 'phone' ? `That number is not valid: ${e.message}` : e.message;
  }
});
$('verify-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    await verify(sessionStorage.getItem('shopeasy.shop.phone'), $('code').value.trim());
    sessionStorage.removeItem('shopeasy.shop.phone');
    $('code').value = '';
    route();
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'That code is wrong or has expired' : e.message;
  }
});
$('otp-again').addEventListener('click', () => { sessionStorage.removeItem('shopeasy.shop.phone'); showSignIn(); $('phone').focus(); });

// ------------------------------------------------------------------ location

let areaMap = null;
let picked = null;

async function loadArea() {
  try {
    area = (await api('GET', '/api/area')).stores || [];
  } catch (e) {
    toast(`Could not load the delivery area: ${e.message}`, 'error');
  }
}

function showLocation() {
  show('location');
  if (!areaMap) areaMap = createMap($('area-map'), { onPick: (p) => choose({ ...p, label: 'Pinned place' }) });
  areaMap.setStores(area);
  picked = state.location;
  areaMap.setAddress(picked);
  renderSaved();
  loadSaved();
  if (picked) checkServed(picked);
}

// Saved places live on the server (GET/PUT /api/me/addresses), so they follow the
// customer to another phone; the copy in localStorage shows them at once and offline.
async function loadSaved() {
  try {
    const r = await api('GET', '/api/me/addresses');
    state.saved = (r.addresses || []).map((a) => ({ id: a.address_id, name: a.label, lat: a.lat, lon: a.lon }));
    save();
    renderSaved();
  } catch { /* keep the local copy */ }
}

// An address id from its name: "Mom's place" -> "mom-s-place".
const addressId = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 32) || 'place';

function renderSaved() {
  $('saved').replaceChildren(...state.saved.map((s) => el('button', {
    type: 'button', class: 'chip', text: s.name, onclick: () => choose({ lat: s.lat, lon: s.lon, label: s.name }),
  })));
}

async function checkServed(p) {
  $('location-done').disabled = true;
  $('location-status').textContent = 'Checking who delivers there…';
  try {
    const r = await api('GET', `/api/stores?geo_hash=${geohash(p.lat, p.lon)}`);
    const ready = (r.stores || []).find((s) => s.online !== false && s.open !== false);
    if (!ready) {
      $('location-status').textContent = (r.stores || []).length
        ? 'The stores near there are closed or offline right now.' : 'We do not deliver there yet: choose a place inside a circle.';
      return;
    }
    $('location-status').textContent = `${ready.name} delivers there (${(ready.distance_m / 1000).toFixed(1)} km away).`;
    $('location-done').disabled = false;
    $('save-form').hidden = false;
  } catch (e) {
    $('location-status').textContent = e.message;
  }
}

function choose(p) {
  picked = { lat: Number(p.lat.toFixed(6)), lon: Number(p.lon.toFixed(6)), label: p.label };
  areaMap.setAddress(picked);
  checkServed(picked);
}

$('geolocate').addEventListener('click', () => {
  if (!navigator.geolocation) { $('location-status').textContent = 'This browser cannot tell where you are.'; return; }
  $('location-status').textContent = 'Finding you…';
  navigator.geolocation.getCurrentPosition(
    (pos) => choose({ lat: pos.coords.latitude, lon: pos.coords.longitude, label: 'My location' }),
    (err) => { $('location-status').textContent = `No location: ${err.message}`; },
    { enableHighAccuracy: true, timeout: 10000 });
});
$('save-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('save-name').value.trim();
  if (!name || !picked) return;
  const id = addressId(name);
  state.saved = [...state.saved.filter((s) => s.name !== name), { id, name, lat: picked.lat, lon: picked.lon }];
  picked.label = name;
  save();
  renderSaved();
  $('save-name').value = '';
  api('PUT', `/api/me/addresses/${encodeURIComponent(id)}`, { label: name.slice(0, 40), lat: picked.lat, lon: picked.lon })
    .then(loadSaved)
    .catch((e) => { $('location-status').textContent = `Saved on this phone only: ${e.message}`; });
});
$('location-done').addEventListener('click', () => {
  const moved = !state.location || state.location.lat !== picked.lat || state.location.lon !== picked.lon;
  state.location = picked;
  save();
  if (moved) resetCatalog();
  location.hash = 'browse';
  route();
});

// ------------------------------------------------------------------ browse and search

// The list on screen is one view of the catalog: everything, or one category, paged from
// the server as the customer scrolls. Changing the view starts the list again, so the
// page holds only what the customer scrolled through in this view, however long they
// browse (a 10,000-product catalog never ends up in the document whole).
const catalog = { geo: '', items: new Map(), cursor: undefined, loading: false, category: '', searching: '', categories: new Set(), view: 0, results: new Map() };

function resetCatalog() {
  catalog.geo = '';
  catalog.categories.clear();
  resetView();
}

function resetView() {
  catalog.items.clear();
  catalog.cursor = undefined;
  catalog.view++;
  $('products').replaceChildren();
}

function categoryParam() {
  return catalog.category ? `&category=${encodeURIComponent(catalog.category)}` : '';
}

function productRow(item) {
  const inCart = state.cart.find((l) => l.sku === item.sku);
  const li = el('li', { class: item.in_stock ? 'product' : 'product out', dataset: { sku: item.sku, category: item.category || '' } },
    el('div', { class: 'p-name' }, item.name, item.unit ? el('span', { class: 'muted', text: ` · ${item.unit}` }) : null),
    el('div', { class: 'p-meta' },
      el('span', { class: 'price', text: money(item.price_cents) }),
      el('span', { class: 'avail', text: item.in_stock ? (item.available <= 5 ? `only ${item.available} left` : 'in stock') : 'out of stock' })),
    inCart ? qtyControl(item, inCart.qty)
      : el('button', { type: 'button', class: 'add', disabled: !item.in_stock, 'aria-label': `Add ${item.name}`, onclick: () => addToCart(item, 1), text: 'Add' }));
  return li;
}

function qtyControl(item, qty) {
  return el('div', { class: 'qty', role: 'group', 'aria-label': `${item.name} quantity` },
    el('button', { type: 'button', 'aria-label': `One less ${item.name}`, onclick: () => addToCart(item, -1), text: '−' }),
    el('span', { class: 'n', text: String(qty), 'aria-live': 'polite' }),
    el('button', { type: 'button', 'aria-label': `One more ${item.name}`, disabled: item.available !== undefined && qty >= item.available, onclick: () => addToCart(item, 1), text: '+' }));
}

// A product the page has shown: in the current view or among search results.
function knownItem(sku) {
  return catalog.items.get(sku) || catalog.results.get(sku);
}

function refreshRow(sku) {
  const item = knownItem(sku);
  const row = $('products').querySelector(`li[data-sku="${CSS.escape(sku)}"]`);
  if (item && row) {
    const fresh = productRow(item);
    fresh.hidden = row.hidden;
    const focusedLabel = row.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
    row.replaceWith(fresh);
    if (focusedLabel) {
      const again = [...fresh.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === focusedLabel) || fresh.querySelector('button');
      if (again) again.focus();
    }
  }
}

function addToCart(item, delta) {
  let line = state.cart.find((l) => l.sku === item.sku);
  if (!line) {
    line = { sku: item.sku, name: item.name, unit: item.unit || '', price_cents: item.price_cents, qty: 0 };
    state.cart.push(line);
  }
  line.qty += delta;
  state.names[item.sku] = item.name;
  if (line.qty <= 0) state.cart = state.cart.filter((l) => l !== line);
  state.checkoutKey = '';
  save();
  renderCartCount();
  refreshRow(item.sku);
}

function renderCategories() {
  const cats = [...catalog.categories].sort();
  const chip = (value, text) => el('button', {
    type: 'button', class: 'chip', 'aria-pressed': String(catalog.category === value), text,
    onclick: () => {
      if (catalog.category === value && !catalog.searching) return;
      catalog.category = value;
      catalog.searching = '';
      $('results-title').textContent = '';
      renderCategories();
      resetView();
      loadPage();
    },
  });
  $('categories').replaceChildren(chip('', 'All'), ...cats.map((c) => chip(c, c)));
}

async function loadPage() {
  if (catalog.loading || catalog.cursor === null || catalog.searching) return;
  catalog.loading = true;
  const geo = catalog.geo;
  const view = catalog.view;
  try {
    const q = `/api/inventory?geo_hash=${geo}&limit=${PAGE}${categoryParam()}${catalog.cursor ? `&cursor=${encodeURIComponent(catalog.cursor)}` : ''}`;
    const r = await api('GET', q);
    if (geo !== catalog.geo || view !== catalog.view) return;
    $('store-line').textContent = r.store ? `From ${r.store.name}${r.store.distance_m !== undefined ? `, ${(r.store.distance_m / 1000).toFixed(1)} km away` : ''}` : '';
    const rows = [];
    for (const item of r.items || []) {
      if (item.category) catalog.categories.add(item.category);
      if (catalog.items.has(item.sku)) continue;
      catalog.items.set(item.sku, item);
      rows.push(productRow(item));
    }
    $('products').append(...rows);
    catalog.cursor = r.next_cursor ?? null;
    $('more').hidden = catalog.cursor === null;
    if (!performance.getEntriesByName('shop-first-products').length) performance.mark('shop-first-products');
    renderCategories();
  } catch (e) {
    $('store-line').textContent = e.status === 404 ? 'No store delivers to this place right now.' : `Could not load the catalog: ${e.message}`;
  } finally {
    catalog.loading = false;
  }
  maybeMore();
}

// Keeps loading while the end of the list is in view (e.g. a category filter hides most
// of what was loaded).
function maybeMore() {
  if (catalog.searching || catalog.cursor === null) return;
  const r = $('more-sentinel').getBoundingClientRect();
  if (r.top < window.innerHeight + 400 && !$('screen-browse').hidden) loadPage();
}
new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) maybeMore(); }, { rootMargin: '400px' }).observe($('more-sentinel'));
$('more').addEventListener('click', loadPage);

// Live availability: what is on screen is read again every 15 s (the page of the
// first visible rows), and rows whose stock changed are redrawn.
setInterval(async () => {
  if ($('screen-browse').hidden || !catalog.geo || catalog.searching || document.hidden) return;
  const first = [...$('products').children].find((li) => !li.hidden && li.getBoundingClientRect().bottom > 0);
  if (!first) return;
  const keys = [...catalog.items.keys()];
  const at = keys.indexOf(first.dataset.sku);
  const cursor = at > 0 ? keys[at - 1] : '';
  try {
    const r = await api('GET', `/api/inventory?geo_hash=${catalog.geo}&limit=${PAGE}${categoryParam()}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const item of r.items || []) {
      const old = catalog.items.get(item.sku);
      if (old && (old.available !== item.available || old.in_stock !== item.in_stock || old.price_cents !== item.price_cents)) {
        catalog.items.set(item.sku, item);
        refreshRow(item.sku);
      }
    }
  } catch { /* the next round tries again */ }
}, 15000);

function showBrowse() {
  show('browse');
  const geo = geohash(state.location.lat, state.location.lon);
  if (catalog.geo !== geo) {
    resetCatalog();
    catalog.geo = geo;
    loadPage();
  }
}

// Suggestions as the customer types (GET /api/suggest), a later keystroke's answer wins.
let suggestSeq = 0;
let suggestTimer = null;
let active = -1;
function closeSuggestions() {
  $('suggestions').hidden = true;
  $('q').setAttribute('aria-expanded', 'false');
  $('q').removeAttribute('aria-activedescendant');
  active = -1;
}
async function suggest() {
  const q = $('q').value.trim();
  const seq = ++suggestSeq;
  if (!q) { closeSuggestions(); if (catalog.searching) clearSearch(); return; }
  try {
    const r = await api('GET', `/api/suggest?q=${encodeURIComponent(q)}&geo_hash=${catalog.geo}&limit=8`);
    if (seq !== suggestSeq) return;
    const items = r.items || [];
    $('suggestions').replaceChildren(...items.map((i, n) => el('li', {
      role: 'option', id: `sugg-${n}`, class: i.in_stock ? '' : 'out', dataset: { sku: i.sku },
      onmousedown: (ev) => { ev.preventDefault(); pickSuggestion(i); },
    }, i.name, el('span', { class: 'muted', text: ` ${money(i.price_cents)}${i.in_stock ? '' : ' · out of stock'}` }))));
    $('suggestions').hidden = !items.length;
    $('q').setAttribute('aria-expanded', String(items.length > 0));
    $('suggestions')._items = items;
  } catch { /* typing on */ }
}
function pickSuggestion(item) {
  $('q').value = item.name;
  closeSuggestions();
  search(item.name);
}
$('q').addEventListener('input', () => { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 120); });
$('q').addEventListener('keydown', (ev) => {
  const list = $('suggestions');
  const n = list.children.length;
  if (list.hidden || !n) return;
  if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
    ev.preventDefault();
    active = (active + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n;
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    $('q').setAttribute('aria-activedescendant', `sugg-${active}`);
  } else if (ev.key === 'Enter' && active >= 0) {
    ev.preventDefault();
    pickSuggestion(list._items[active]);
  } else if (ev.key === 'Escape') {
    closeSuggestions();
  }
});
$('q').addEventListener('blur', () => setTimeout(closeSuggestions, 150));
$('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); closeSuggestions(); search($('q').value.trim()); });

async function search(q) {
  if (!q) { clearSearch(); return; }
  catalog.searching = q;
  $('results-title').textContent = `Searching “${q}”…`;
  try {
    const r = await api('GET', `/api/search?q=${encodeURIComponent(q)}&geo_hash=${catalog.geo}&limit=40`);
    if (catalog.searching !== q) return;
    // Results are not part of the view: kept apart so the list goes back to the view.
    for (const i of r.items || []) catalog.results.set(i.sku, i);
    $('products').replaceChildren(...(r.items || []).map(productRow));
    $('results-title').replaceChildren(`${(r.items || []).length ? r.items.length : 'No'} results for “${q}” `,
      el('button', { type: 'button', class: 'link', onclick: () => { $('q').value = ''; clearSearch(); }, text: 'Show all products' }));
    $('more').hidden = true;
  } catch (e) {
    $('results-title').textContent = e.message;
  }
}

function clearSearch() {
  catalog.searching = '';
  catalog.results.clear();
  $('results-title').textContent = '';
  $('products').replaceChildren(...[...catalog.items.values()].map(productRow));
  $('more').hidden = catalog.cursor === null;
  maybeMore();
}

// ------------------------------------------------------------------ cart and quote

let quote = null;
let quoteTimer = null;

function showCart() {
  show('cart');
  renderCart();
}

function renderCart() {
  $('cart-empty').hidden = state.cart.length > 0;
  $('cart-lines').replaceChildren(...state.cart.map((l) => el('li', { dataset: { sku: l.sku } },
    el('span', { class: 'p-name', text: l.name }),
    qtyControl({ ...l, available: (knownItem(l.sku) || {}).available }, l.qty),
    el('button', { type: 'button', class: 'link', 'aria-label': `Remove ${l.name}`, text: 'Remove',
      onclick: () => { state.cart = state.cart.filter((x) => x !== l); state.checkoutKey = ''; save(); renderCartCount(); renderCart(); } }))));
  // The quantity buttons of the cart change the cart through addToCart.
  for (const li of $('cart-lines').children) {
    for (const b of li.querySelectorAll('.qty button')) b.addEventListener('click', () => renderCart());
  }
  $('checkout').disabled = true;
  quote = null;
  clearTimeout(quoteTimer);
  if (!state.cart.length) { $('quote').replaceChildren(); return; }
  $('quote').textContent = 'Pricing your cart…';
  quoteTimer = setTimeout(fetchQuote, 200);
}

async function fetchQuote() {
  $('cart-error').textContent = '';
  try {
    const body = { lines: state.cart.map((l) => ({ sku: l.sku, qty: l.qty })), delivery: { lat: state.location.lat, lon: state.location.lon } };
    quote = await api('POST', '/api/quote', body);
    const names = Object.fromEntries(state.cart.map((l) => [l.sku, l.name]));
    $('quote').replaceChildren(
      el('h2', { text: 'Price before you order' }),
      el('table', { class: 'bill' },
        el('tbody', {},
          ...quote.lines.map((l) => el('tr', {}, el('td', {}, `${l.qty} × ${l.name || names[l.sku] || l.sku}`, (l.markdowns || []).length ? el('small', { class: 'muted', text: ` (${l.markdowns.map((m) => `${m.qty} at ${money(m.unit_price_cents)}, best before ${new Date(m.expires_ms - 1).toISOString().slice(0, 10)}`).join('; ')})` }) : null), el('td', { class: 'num', text: money(l.amount_cents) }))),
          ...quote.fees.map((f) => el('tr', { class: 'fee' }, el('td', {}, feeName(f.kind), f.reason ? el('small', { class: 'muted', text: ` (${f.reason})` }) : null), el('td', { class: 'num', text: money(f.amount_cents) }))),
          el('tr', { class: 'total' }, el('th', { scope: 'row', text: 'Total' }), el('td', { class: 'num', id: 'quote-total', text: money(quote.total_cents) })))),
      el('p', { class: 'muted', id: 'quote-expiry' }));
    tickQuote();
    $('checkout').disabled = false;
    $('checkout').textContent = `Place order · ${money(quote.total_cents)}`;
  } catch (e) {
    $('quote').replaceChildren();
    $('cart-error').textContent = e.status === 409 ? 'No open store delivers to your place right now.' : `Could not price the cart: ${e.message}`;
  }
}

function feeName(kind) {
  return { markdown: 'Near-expiry discount', delivery: 'Delivery fee', small_cart: 'Small cart fee', surge: 'Busy-time fee', handling: 'Handling fee', platform: 'Platform fee' }[kind] || `${kind} fee`;
}

function tickQuote() {
  const p = $('quote-expiry');
  if (!p || !quote) return;
  const left = Math.round((quote.expires_at_ms - Date.now()) / 1000);
  p.textContent = left > 0 ? `This price holds for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'Price expired; pricing again…';
  if (left <= 0 && !$('screen-cart').hidden) { quote = null; $('checkout').disabled = true; fetchQuote(); }
}
setInterval(tickQuote, 1000);

$('checkout').addEventListener('click', async () => {
  if (!quote) return;
  $('checkout').disabled = true;
  $('cart-error').textContent = '';
  // One key per cart: a retry after a lost answer or a reload gets the same order.
  if (!state.checkoutKey) { state.checkoutKey = crypto.randomUUID(); save(); }
  try {
    const body = { lines: state.cart.map((l) => ({ sku: l.sku, qty: l.qty })), delivery: { lat: state.location.lat, lon: state.location.lon }, quote_id: quote.quote_id };
    const order = await api('POST', '/api/orders', body, { headers: { 'Idempotency-Key': state.checkoutKey } });
    for (const l of state.cart) state.names[l.sku] = l.name;
    state.order = order.order_id;
    if (order.payment && order.payment.confirm_url) state.pay[order.order_id] = order.payment.confirm_url;
    state.cart = [];
    state.checkoutKey = '';
    save();
    renderCartCount();
    location.hash = `track/${order.order_id}`;
  } catch (e) {
    $('checkout').disabled = false;
    if (e.code === 'quote_expired' || e.code === 'quote_mismatch') {
      $('cart-error').textContent = 'Prices changed since the quote; here is the new price.';
      state.checkoutKey = '';
      save();
      fetchQuote();
    } else if (e.code === 'out_of_stock') {
      $('cart-error').textContent = 'Some items just ran out: remove them and try again.';
    } else {
      $('cart-error').textContent = e.message;
    }
  }
});

// ------------------------------------------------------------------ tracking

let tracking = null;  // {id, stream, map, order, seen:Set}

function stopTracking() {
  if (tracking) tracking.stream.stop();
  tracking = null;
}

function showTrack(id) {
  show('track');
  if (tracking && tracking.id === id) return;
  stopTracking();
  state.order = id;
  save();
  const map = createMap($('track-map'));
  tracking = { id, map, order: null, seen: new Set(), eta: 0, moves: [] };
  window.__shopTracking = tracking;
  $('notification-list').replaceChildren();
  $('live').textContent = 'Connecting…';
  const t = tracking;
  readOrder(id).then((o) => { if (tracking === t) applyOrder(o); }).catch((e) => { $('track-state').textContent = e.message; });
  t.stream = follow(id, {
    onOpen: () => {
      $('live').textContent = 'Live';
      // Anything missed while the stream was down is in the order itself.
      readOrder(id).then((o) => { if (tracking === t) applyOrder(o); }).catch(() => {});
    },
    onDown: () => { if (tracking === t && !FINAL.has(t.order && t.order.status)) $('live').textContent = 'Reconnecting…'; },
    // A finished order's stream ends on the server's side (after a refund window); then stop.
    isFinal: () => !!(t.order && FINAL.has(t.order.status)),
    onEvent: (type, data, eventId) => { if (tracking === t) onOrderEvent(type, data, eventId); },
  });
}

function applyOrder(o) {
  const t = tracking;
  t.order = { ...(t.order || {}), ...o };
  const store = area.find((s) => s.id === o.store_id);
  t.map.setStores(store ? [{ ...store, service_radius_m: Math.min(store.service_radius_m, distanceM(store, o.delivery) + 400) }] : area);
  t.map.setAddress(o.delivery);
  if (o.status === 'delivered') t.map.setRunner(o.delivery);
  else if (FINAL.has(o.status)) t.map.setRunner(null);
  if (o.eta_ms) t.eta = o.eta_ms;
  renderTrack();
  $('track-lines').replaceChildren(...o.lines.map((l) => el('li', {}, el('span', { text: `${l.qty} × ${state.names[l.sku] || l.sku}` }), el('span', { class: 'num', text: money(l.line_total_cents) }))),
    el('li', { class: 'total' }, el('strong', { text: 'Paid total' }), el('strong', { class: 'num', text: money(o.total_cents) })));
}

function onOrderEvent(type, data, eventId) {
  const t = tracking;
  if (eventId && t.seen.has(eventId)) return;  // at least once: the id dedupes
  if (eventId) t.seen.add(eventId);
  if (!t.order) t.order = {};
  if (data.eta_ms) t.eta = data.eta_ms;
  if (type === 'status') {
    t.order.status = data.status;
    if (data.runner_id !== undefined) t.order.runner_id = data.runner_id;
    // Packed again with a runner is the store handing the order to one (or to another).
    const text = data.status === 'packed' && data.runner_id ? 'A runner is assigned' : LABEL[data.status] || data.status;
    notify(text, data.at_ms, data.reason);
    if (FINAL.has(data.status)) t.map.setRunner(data.status === 'delivered' && t.order.delivery ? t.order.delivery : null);
    if (data.status === 'delivered') t.deliveredAt = data.at_ms;
  } else if (type === 'position' && data.lat !== undefined) {
    // A late position after the order ended (events replayed out of step) is not news.
    if (FINAL.has(t.order.status)) return;
    t.map.setRunner({ lat: data.lat, lon: data.lon });
    t.moves.push({ at: Date.now(), lat: data.lat, lon: data.lon });
    if (t.moves.length > 500) t.moves.shift();
  } else if (type === 'lines') {
    notify('The store changed your items (a substitute or fewer units)', data.at_ms);
  }
  renderTrack();
}

// The notifications list (see index.html): one entry per event the customer should see.
function notify(text, atMs, reason) {
  const when = new Date(atMs || Date.now()).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  $('notification-list').prepend(el('li', {}, el('time', { text: when }), ` ${text}${reason ? ` (${reason})` : ''}`));
}

function renderTrack() {
  const t = tracking;
  if (!t || !t.order || !t.order.status) return;
  const o = t.order;
  $('track-state').textContent = LABEL[o.status] || o.status;
  $('track-state').dataset.status = o.status;
  const payUrl = state.pay[o.order_id || t.id];
  $('pay-line').hidden = !(o.status === 'pending_payment' && payUrl);
  if (payUrl) $('pay-link').href = payUrl;
  const reached = STEPS.indexOf(o.status === 'routed' ? 'confirmed' : o.status);
  $('steps').replaceChildren(...STEPS.map((s, i) => el('li', { class: i < reached ? 'done' : i === reached ? 'now' : '', 'aria-current': i === reached ? 'step' : null, text: LABEL[s] })));
  tickEta();
}

function tickEta() {
  const t = tracking;
  if (!t || !t.order || $('screen-track').hidden) return;
  const o = t.order;
  if (FINAL.has(o.status)) {
    const at = o.status === 'delivered' ? (t.deliveredAt || o.updated_at_ms) : 0;
    $('eta-label').textContent = o.status === 'delivered' ? 'Delivered at' : 'Not arriving:';
    $('eta').textContent = at ? new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : (LABEL[o.status] || o.status);
    $('eta').dataset.final = o.status;
    $('eta-note').textContent = '';
    return;
  }
  $('eta-label').textContent = 'Arriving in';
  delete $('eta').dataset.final;
  const target = t.eta || o.promised_at_ms;
  if (!target) return;
  const left = Math.round((target - Date.now()) / 1000);
  $('eta').textContent = left >= 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'any moment';
  $('eta').dataset.leftS = String(left);
  $('eta-note').textContent = t.eta ? '' : '(promised)';
}
setInterval(tickEta, 1000);

// ------------------------------------------------------------------ history

let ordersCursor = null;

async function showOrders(more = false) {
  show('orders');
  if (!more) { $('order-list').replaceChildren(); ordersCursor = null; showAccount(); }
  try {
    const r = await api('GET', `/api/me/orders?limit=20${ordersCursor ? `&cursor=${encodeURIComponent(ordersCursor)}` : ''}`);
    $('order-list').append(...(r.orders || []).map(orderRow));
    ordersCursor = r.next_cursor || null;
    $('orders-more').hidden = !ordersCursor;
    if (!$('order-list').children.length) $('order-list').append(el('li', { class: 'muted', text: 'No orders yet.' }));
  } catch (e) {
    $('order-list').append(el('li', { class: 'error', text: e.message }));
  }
}
$('orders-more').addEventListener('click', () => showOrders(true));

// ------------------------------------------------------------------ the account

async function showAccount() {
  try {
    const me = await api('GET', '/api/me');
    $('account-phone').textContent = me.phone ? `Signed in as ${me.phone}` : '';
  } catch { /* the orders list says what went wrong */ }
}

// Everything this phone kept for the customer: the cart, places, the order followed.
function forgetLocalState() {
  stopTracking();
  Object.assign(state, fresh());
  localStorage.removeItem(STATE_KEY);
  for (const k of Object.keys(sessionStorage)) if (k.startsWith('shopeasy.shop.')) sessionStorage.removeItem(k);
  resetCatalog();
  renderCartCount();
  $('account-phone').textContent = '';
}

// The confirmation is a modal <dialog>: focus moves into it ("Keep my account" first),
// Tab stays inside, Escape closes it, and focus returns to the button that opened it.
$('delete-open').addEventListener('click', () => {
  $('delete-error').textContent = '';
  $('delete-confirm').disabled = false;
  $('delete-dialog').showModal();
});
$('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
$('delete-dialog').addEventListener('close', () => { if (auth.signedIn()) $('delete-open').focus(); });
$('delete-confirm').addEventListener('click', async () => {
  $('delete-confirm').disabled = true;
  $('delete-error').textContent = '';
  try {
    const r = await deleteAccount();
    forgetLocalState();
    $('delete-dialog').close();
    const kept = r && r.orders_anonymised ? ` ${r.orders_anonymised} past order(s) are kept, anonymised, for accounting.` : '';
    toast(`Your account was deleted.${kept}`);
    location.hash = '';
    route();
  } catch (e) {
    $('delete-confirm').disabled = false;
    // The server says why (an open order: which to wait for); nothing was deleted.
    $('delete-error').textContent = e.code === 'failed_precondition'
      ? `Your account was not deleted: ${e.message}.`
      : `Your account was not deleted: ${e.message}`;
  }
});

function orderRow(o) {
  const items = o.lines.map((l) => `${l.qty} × ${state.names[l.sku] || l.sku}`).join(', ');
  return el('li', { class: 'order', dataset: { order: o.order_id, status: o.status } },
    el('div', {}, el('strong', { text: LABEL[o.status] || o.status }), ' · ', new Date(o.created_at_ms).toLocaleString(), ' · ', money(o.total_cents)),
    el('div', { class: 'muted', text: items }),
    el('div', { class: 'row' },
      el('a', { class: 'button', href: `#track/${o.order_id}`, text: 'Track' }),
      el('button', { type: 'button', text: 'Reorder', 'aria-label': `Reorder ${items}`, onclick: () => reorder(o) })));
}

function reorder(o) {
  for (const l of o.lines) {
    const known = knownItem(l.sku);
    const line = state.cart.find((x) => x.sku === l.sku);
    if (line) line.qty += l.qty;
    else state.cart.push({ sku: l.sku, name: (known && known.name) || state.names[l.sku] || l.sku, unit: '', price_cents: l.unit_price_cents, qty: l.qty });
  }
  state.checkoutKey = '';
  save();
  renderCartCount();
  toast('Added to your cart; the price is checked again before you order');
  location.hash = 'cart';
}

// ------------------------------------------------------------------ start

renderCartCount();
renderOffline();
route();

// The service worker (sw.js) keeps the app's own files so it opens without a network.
// Its scope is /shop (the page itself and everything under /shop/); the server allows
// that scope with a Service-Worker-Allowed header. Registered once the page has loaded,
// so it never competes with the first paint.
if ('serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/shop/sw.js', { scope: '/shop' })
      .catch((e) => console.warn(`offline support unavailable: ${e.message}`));
  });
}
