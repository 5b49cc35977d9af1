// The store command center: signs in, shows the panels the role may use, and keeps
// everything live from the edge's event stream.
import { session, login, logout, restore, whenUnauthenticated, atLeast } from './api.js';
import { $, el, toast } from './util.js';
import * as live from './live.js';
import * as inventory from './inventory.js';
import * as alerts from './alerts.js';
import * as orders from './orders.js';
import * as runners from './runners.js';
import * as shelf from './shelf.js';
import * as health from './health.js';
import * as admin from './admin.js';
import * as planning from './planning.js';
import * as pricing from './pricing.js';

// The handheld mode's modules load only when it is used: the desktop page's first
// render does not wait for them.
let handheld = null;

// Handheld mode (handheld.js) for phone-sized screens and for pickers, unless the person
// chose otherwise on this device with the Desktop / Handheld buttons.
const MODE_KEY = 'shopeasy.mode';
function wantHandheld() {
  const chosen = localStorage.getItem(MODE_KEY);
  if (chosen) return chosen === 'handheld';
  return window.matchMedia('(max-width: 600px)').matches || session.role === 'picker';
}
function switchMode(mode) {
  localStorage.setItem(MODE_KEY, mode);
  location.hash = '';
  location.reload();
}
async function enter() {
  if (wantHandheld()) {
    $('login-view').hidden = true;
    handheld = handheld || await import('./handheld.js');
    handheld.start({ onDesktop: () => switchMode('desktop') });
  } else {
    startApp();
  }
}

const PANELS = {
  inventory: { label: 'Inventory', load: inventory.load, shown: inventory.shown },
  alerts: { label: 'Alerts', load: alerts.load },
  orders: { label: 'Orders', load: orders.load },
  picking: { label: 'Picking', panel: 'orders', load: orders.load },
  runners: { label: 'Runners', load: runners.load, shown: runners.shown },
  shelf: { label: 'Shelf scans', load: shelf.load },
  planning: { label: 'Planning', load: planning.load, shown: planning.shown },
  pricing: { label: 'Pricing', load: pricing.load },
  users: { label: 'Users', load: admin.loadUsers },
  audit: { label: 'Audit log', load: () => admin.loadAudit() },
};

function tabsFor(role) {
  switch (role) {
    case 'picker': return ['picking', 'inventory', 'alerts', 'runners'];
    case 'viewer': return ['inventory', 'alerts', 'orders', 'runners', 'shelf', 'planning', 'pricing'];
    case 'manager': return ['inventory', 'alerts', 'orders', 'runners', 'shelf', 'planning', 'pricing'];
    case 'admin': return ['inventory', 'alerts', 'orders', 'runners', 'shelf', 'planning', 'pricing', 'users', 'audit'];
    default: return [];
  }
}

let current = null;
let started = false;
let healthTimer = null;

function show(tab) {
  current = tab;
  const target = PANELS[tab].panel || tab;
  for (const b of $('tabs').children) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  for (const p of document.querySelectorAll('.panel')) p.hidden = p.dataset.panel !== target;
  shelf.shown(target === 'shelf');
  if (PANELS[tab].shown) PANELS[tab].shown();
  if (location.hash !== `#${tab}`) history.replaceState(null, '', `#${tab}`);
}

// Everything the page shows, read again (at start and after each reconnect).
async function loadAll({ skipStock = false } = {}) {
  const tabs = tabsFor(session.role);
  const loads = new Set();
  for (const t of tabs) loads.add(PANELS[t].load);
  if (skipStock) loads.delete(inventory.load);
  if (earlyStock) {
    // Already on its way since the page opened.
    loads.delete(inventory.load);
    loads.add(() => earlyStock);
    earlyStock = null;
  }
  if (!tabs.includes('shelf')) loads.add(shelf.load);
  const results = await Promise.allSettled([...loads].map((f) => f()));
  for (const r of results) if (r.status === 'rejected' && r.reason?.status !== 401) console.warn(r.reason);
  health.refresh();
}

function startApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('who').hidden = false;
  $('user-name').textContent = session.user;
  $('user-role').textContent = session.role;
  const tabs = tabsFor(session.role);
  $('tabs').replaceChildren(...tabs.map((t) => el('button', {
    type: 'button', role: 'tab', dataset: { tab: t }, onclick: () => show(t),
  }, PANELS[t].label, t === 'alerts' ? el('span', { class: 'badge', id: 'alert-badge', hidden: true }) : null)));
  if (!started) {
    started = true;
    inventory.init();
    alerts.init((active) => {
      const b = $('alert-badge');
      if (b) { b.textContent = active; b.hidden = active === 0; }
    });
    orders.init({ pickerView: session.role === 'picker' });
    runners.init();
    shelf.init();
    admin.init();
    planning.init();
    pricing.init();
    live.onStatus((up) => {
      $('live').textContent = up ? 'live' : 'reconnecting';
      $('live').classList.toggle('on', up);
    });
  }
  const wanted = location.hash.slice(1);
  show(tabs.includes(wanted) ? wanted : tabs[0]);
  // The first reads run beside the stream's start, so a change made after a panel was
  // read but before the stream opened would be missed (alerts, orders and runners have no
  // replay). Once the stream is open, the light panels are read again; the stock list is
  // not (10,000 rows), and its few missed changes wait for the next reconnect or reload.
  live.connect(() => { loadAll(); }, () => { loadAll({ skipStock: true }); });
  loadAll().then(() => { if (current) show(current); });
  clearInterval(healthTimer);
  healthTimer = health.start();
  document.body.dataset.ready = 'true';
}

function showLogin(message = '') {
  live.disconnect();
  if (handheld) handheld.stop();
  clearInterval(healthTimer);
  document.body.dataset.ready = 'false';
  $('app-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('login-user').focus();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('login-submit').disabled = true;
  try {
    await login($('login-user').value.trim(), $('login-password').value);
    $('login-password').value = '';
    await enter();
  } catch (e) {
    $('login-error').textContent = e.status === 401 ? 'Wrong user name or password'
      : e.status === 429 ? 'Too many attempts; wait a minute and try again' : e.message;
  } finally {
    $('login-submit').disabled = false;
  }
});

$('mode-handheld').addEventListener('click', () => switchMode('handheld'));

$('logout').addEventListener('click', async () => {
  await logout();
  location.hash = '';
  showLogin();
});

whenUnauthenticated(() => {
  session.set('');
  showLogin('Your session ended; sign in again');
});

// For the browser tests and for people poking at a slow page: what was measured.
window.shopeasy = { inventory: inventory.metrics, live: live.stats, session, atLeast, openAdjust: inventory.openAdjust, currentItem: inventory.currentItem };

health.refresh();
// With a session from before a reload, the stock list (the slowest read) starts at
// once instead of after the session check; a stale session just fails it quietly.
let earlyStock = session.token && !window.matchMedia('(max-width: 600px)').matches && localStorage.getItem(MODE_KEY) !== 'handheld'
  ? inventory.load().catch(() => {}) : null;
restore().then((ok) => (ok ? enter() : showLogin())).catch((e) => {
  showLogin(e.status === 401 ? '' : e.message);
  if (e.status && e.status !== 401) toast(e.message, 'error');
});
