// End-to-end tests of the store command center (and, in shop.mjs, the cloud's customer
// app) in a real browser: starts a mosquitto
// broker, a shopeasy-edge and a shopeasy-runner fleet on free loopback ports, creates
// staff users with shopeasy-edge-users, seeds a 10,000-SKU catalog, then drives
// Debian's Chromium headless through playwright-core. Screenshots and daemon logs go
// to the artifacts directory. Exits non-zero if any test fails.
//
// Usage: node run.mjs --bin-dir DIR --artifacts DIR --modules DIR [--soak-seconds N]
//   --modules     the directory holding node_modules/playwright-core
//   --soak-seconds how long the 100 events/s memory check runs (default 60)
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fleetTests } from './fleet.mjs';
import { handheldTests } from './handheld.mjs';
import { planningTests } from './planning.mjs';
import { shopTests } from './shop.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const binDir = path.resolve(args['bin-dir'] || 'build/bin');
const artifacts = path.resolve(args.artifacts || 'build/browser-artifacts');
const modules = path.resolve(args.modules || path.dirname(new URL(import.meta.url).pathname));
const soakSeconds = Number(args['soak-seconds'] || 60);
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const SKUS = Number(args.skus || 10000);

const { chromium } = createRequire(path.join(modules, 'package.json'))('playwright-core');

fs.rmSync(artifacts, { recursive: true, force: true });
fs.mkdirSync(path.join(artifacts, 'logs'), { recursive: true });
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'shopeasy-browser-'));
const children = [];
// Whatever happens (a failed setup step included), nothing started here outlives the run.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
const results = [];
const figures = {};

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = 10000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last.message})` : ''}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function start(name, cmd, argv, env = {}) {
  const log = fs.openSync(path.join(artifacts, 'logs', `${name}.log`), 'a');
  const child = spawn(cmd, argv, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  child.name = name;
  child.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  children.push(child);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exited, sleep(10000).then(() => null)]);
  if (!done) { child.kill('SIGKILL'); await child.exited; }
}

function which(name, fallback) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return fallback;
}

function ean13(n) {
  const body = `20${String(n).padStart(10, '0')}`;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 ? 3 : 1);
  return body + ((10 - (sum % 10)) % 10);
}
const sku = (i) => `SKU-${String(i).padStart(5, '0')}`;

// --only REGEX runs just the tests whose names match (the store is still set up in full).
const only = args.only ? new RegExp(args.only) : null;
async function test(name, fn) {
  if (only && !only.test(name)) return;
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - started, error: e });
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

// ---------------------------------------------------------------- the store

const brokerPort = await freePort();
const httpPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const seedToken = randomBytes(24).toString('hex');
const STORE = { lat: 12.9716, lon: 77.5946 };
const passwords = { admin: 'admin-pass-1', manager: 'manager-pass-1', picker: 'picker-pass-1' };

fs.writeFileSync(path.join(state, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
start('mosquitto', which('mosquitto', '/usr/sbin/mosquitto'), ['-c', path.join(state, 'mosquitto.conf')]);

for (const [name, password] of Object.entries(passwords)) {
  const r = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(state, 'users.db'), 'add', name, name],
    { input: `${password}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`shopeasy-edge-users add ${name} failed: ${r.stderr}`);
}

const edgeConfig = {
  store: { id: 'browser-test', name: 'Browser test store', lat: STORE.lat, lon: STORE.lon, durable: false },
  state_dir: state,
  http: { port: httpPort, rate_limit_per_s: 0 },
  mqtt: { port: brokerPort, client_id: 'shopeasy-edge-browser-test' },
  telemetry: { runners: ['sim-r1', 'sim-r2', 'sim-r3'], stale_after_s: 5, trail_min_interval_s: 1, trail_min_distance_m: 5 },
  auth: { tokens: [{ name: 'seeder', role: 'admin', sha256: createHash('sha256').update(seedToken).digest('hex') }] },
};
fs.writeFileSync(path.join(state, 'edge.json'), JSON.stringify(edgeConfig, null, 2));
const startEdge = () => start('edge', path.join(binDir, 'shopeasy-edge'), ['--config', path.join(state, 'edge.json')]);
let edge = startEdge();

async function call(method, p, body, token = seedToken, type = 'application/json') {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = type;
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}
async function ok(method, p, body, token) {
  const r = await call(method, p, body, token, typeof body === 'string' ? 'text/csv' : 'application/json');
  if (r.status >= 300) throw new Error(`${method} ${p}: HTTP ${r.status} ${r.text}`);
  return r.body;
}

await waitFor('the edge to answer /health', async () => (await fetch(`${base}/health`)).ok, 20000);

start('runners', path.join(binDir, 'shopeasy-runner'), [
  '--runner.mode', 'fleet', '--fleet.size', '3', '--fleet.id_prefix', 'sim-r', '--fleet.spread_m', '150',
  '--runner.lat', String(STORE.lat), '--runner.lon', String(STORE.lon), '--runner.speed_mps', '15',
  '--mqtt.port', String(brokerPort), '--telemetry.interval_ms', '300', '--http.port', '0']);

// Catalog: SKUS products, the first few with a reorder point so one runs low.
await ok('POST', '/api/bins', { bins: [{ code: 'A-01', walk_order: 1 }, { code: 'A-02', walk_order: 2 }, { code: 'B-01', walk_order: 3 }] });
const seedStarted = Date.now();
for (let from = 1; from <= SKUS; from += 2500) {
  const rows = ['sku,name,category,price_cents,barcodes,reorder_point,home_bin'];
  for (let i = from; i < Math.min(from + 2500, SKUS + 1); i++) {
    rows.push(`${sku(i)},Product ${i} ${['milk', 'bread', 'rice', 'soap', 'tea'][i % 5]},${['dairy', 'bakery', 'staples', 'home', 'drinks'][i % 5]},${100 + i},${ean13(i)},${i <= 20 ? 10 : 0},A-0${1 + (i % 2)}`);
  }
  await ok('POST', '/api/catalog', `${rows.join('\n')}\n`);
}
let scanNo = 0;
const scan = (i, qty, action = 'receive', bin = 'A-01') => ok('POST', '/api/scans', {
  scan_id: `t-${Date.now()}-${scanNo++}`, scanner_id: 'browser-test', code: ean13(i), action, qty, bin,
});
for (let i = 1; i <= 50; i++) await scan(i, i === 3 ? 2 : 25);
console.log(`seeded ${SKUS} SKUs in ${Date.now() - seedStarted} ms`);

// ---------------------------------------------------------------- the browser

const browserArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
async function openBrowser(label) {
  const profile = fs.mkdtempSync(path.join(state, `profile-${label}-`));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: browserArgs, viewport: { width: 1400, height: 900 },
  });
  // Nothing but the store box may be reached.
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:' ? route.continue() : route.abort();
  });
  return ctx;
}
let shot = 0;
const screenshot = (page, name) => page.screenshot({ path: path.join(artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`) });

async function signIn(page, user) {
  await page.goto(base + '/');
  await page.fill('#login-user', user);
  await page.fill('#login-password', passwords[user]);
  await page.click('#login-submit');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
}

const rowCell = (page, s, col) => page.locator(`#stock-scroll .vrow[data-sku="${s}"]:not([hidden]) span`).nth(col).textContent();

const ctx = await openBrowser('manager');
const page = ctx.pages()[0] || await ctx.newPage();
page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
const cdp = await ctx.newCDPSession(page);
await cdp.send('Performance.enable');

try {
  await test('the page is served by the edge and signs a manager in', async () => {
    const r = await fetch(`${base}/`);
    if (!r.ok || !(r.headers.get('content-type') || '').startsWith('text/html')) throw new Error(`GET / -> ${r.status}`);
    const bad = await call('GET', '/api/stock');
    await page.goto(base + '/');
    await page.fill('#login-user', 'manager');
    await page.fill('#login-password', 'wrong');
    await page.click('#login-submit');
    await waitFor('the login error', async () => (await page.textContent('#login-error')).includes('Wrong'));
    await screenshot(page, 'login-refused');
    await signIn(page, 'manager');
    if ((await page.textContent('#user-role')) !== 'manager') throw new Error('role not shown');
    void bad;
    await screenshot(page, 'signed-in');
  });

  await test(`first render with ${SKUS} SKUs under 1 s`, async () => {
    const t0 = Date.now();
    await page.reload();
    await page.waitForSelector('#stock-scroll .vrow[data-sku]:not([hidden])', { timeout: 10000 });
    const visible = Date.now() - t0;
    await waitFor('every SKU loaded', () => page.evaluate((n) => window.shopeasy.inventory.skus >= n, SKUS), 20000);
    const m = await page.evaluate(() => ({ ...window.shopeasy.inventory, nav: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd }));
    figures.first_rows_visible_ms = visible;
    figures.first_page_of_rows_ms_in_page = Math.round(m.firstRowsMs);
    figures.all_skus_loaded_ms_in_page = Math.round(m.allLoadedMs);
    figures.all_skus_loaded_since_navigation_ms = Math.round(m.allLoadedAt);
    figures.first_rows_since_navigation_ms = Math.round(m.firstRowsAt);
    figures.dom_content_loaded_ms = Math.round(m.nav || 0);
    console.log(`  reload -> first rows visible ${visible} ms (in page: DOMContentLoaded ${Math.round(m.nav || 0)} ms, first rows ${Math.round(m.firstRowsAt)} ms after navigation start); all ${SKUS} SKUs loaded ${Math.round(m.allLoadedAt)} ms after navigation start`);
    await screenshot(page, 'inventory-10k');
    // The first screen of rows is what a person waits for; the rest streams in behind it.
    if (visible > 1000) throw new Error(`first rows took ${visible} ms`);
    // Scrolling to the end shows the last SKU: the list is complete and virtualised.
    await page.evaluate(() => { const s = document.getElementById('stock-scroll'); s.scrollTop = s.scrollHeight; });
    await page.waitForSelector(`#stock-scroll .vrow[data-sku="${sku(SKUS)}"]:not([hidden])`, { timeout: 5000 });
    const rows = await page.locator('#stock-scroll .vrow').count();
    figures.row_elements_for_all_skus = rows;
    if (rows > 100) throw new Error(`${rows} row elements: not virtualised`);
  });

  await test('search by name, SKU, barcode and a Hinglish word', async () => {
    await page.fill('#stock-search', sku(1234));
    await page.waitForSelector(`#stock-scroll .vrow[data-sku="${sku(1234)}"]:not([hidden])`);
    await page.fill('#stock-search', 'product 777 ');
    await page.fill('#stock-search', ean13(4321));
    await page.waitForSelector(`#stock-scroll .vrow[data-sku="${sku(4321)}"]:not([hidden])`, { timeout: 5000 });
    await screenshot(page, 'barcode-search');
    // A Hinglish word no name contains: the store's product search (/api/search) finds
    // the milk, and only the milk.
    await page.fill('#stock-search', 'doodh');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#stock-scroll .vrow[data-sku]:not([hidden])')];
      return rows.length > 0 && rows.every((r) => /milk/i.test(r.textContent));
    }, null, { timeout: 5000, polling: 100 });
    await screenshot(page, 'hinglish-search');
  });

  await test('a scan posted to the API shows on the page within 1 s', async () => {
    const target = 7;
    await page.fill('#stock-search', sku(target));
    await page.waitForSelector(`#stock-scroll .vrow[data-sku="${sku(target)}"]:not([hidden])`);
    const before = Number(await rowCell(page, sku(target), 3));
    const t0 = Date.now();
    await scan(target, 5);
    await page.waitForFunction(([s, want]) => {
      const row = document.querySelector(`#stock-scroll .vrow[data-sku="${s}"]:not([hidden])`);
      return row && Number(row.children[3].textContent) === want;
    }, [sku(target), before + 5], { timeout: 3000, polling: 'raf' });
    const latency = Date.now() - t0;
    figures.scan_to_screen_ms = latency;
    console.log(`  scan -> on screen ${latency} ms`);
    await screenshot(page, 'after-scan');
    if (latency > 1000) throw new Error(`took ${latency} ms`);
  });

  await test('stock per bin and lot in the SKU detail; a manager can adjust with a reason', async () => {
    const target = 7;
    await page.click(`#stock-scroll .vrow[data-sku="${sku(target)}"]`);
    await page.waitForSelector('#detail-stock tbody tr[data-bin="A-01"]');
    await page.click('#adjust-open');
    await page.waitForSelector('#adjust-dialog[open]');
    await page.fill('#adjust-qty', '-2');
    await page.selectOption('#adjust-reason', 'damage');
    await page.fill('#adjust-note', 'dropped crate');
    await screenshot(page, 'adjust-dialog');
    await page.click('#adjust-save');
    await waitFor('the dialog to close', async () => !(await page.locator('#adjust-dialog[open]').count()), 5000)
      .catch(async (e) => { throw new Error(`${e.message}; dialog says: ${await page.textContent('#adjust-error')}`); });
    const item = await ok('GET', `/api/stock/${sku(target)}`);
    if (item.recent_movements[0].reason !== 'damage' || item.recent_movements[0].actor !== 'manager') {
      throw new Error(`last movement ${JSON.stringify(item.recent_movements[0])}`);
    }
  });

  await test('a runner moves on the map', async () => {
    await page.click('#tabs button[data-tab="runners"]');
    const dot = 'circle[data-runner="sim-r1"]';
    await page.waitForSelector(dot, { timeout: 15000 });
    await waitFor('sim-r1 to have a position', async () => Number(await page.getAttribute(dot, 'cx')) > 0, 15000);
    const before = [await page.getAttribute(dot, 'data-lat'), await page.getAttribute(dot, 'data-lon')];
    await screenshot(page, 'map-before');
    const assignment = {
      assignment_id: `a-${Date.now()}`, runner_id: 'sim-r1', store: STORE, issued_at_ms: Date.now(),
      stops: [{ order_id: 'o-browser-1', lat: STORE.lat + 0.006, lon: STORE.lon + 0.004, promised_at_ms: Date.now() + 600000 }],
    };
    const pub = spawnSync(which('mosquitto_pub', '/usr/bin/mosquitto_pub'), ['-h', '127.0.0.1', '-p', String(brokerPort), '-q', '1',
      '-t', 'runners/sim-r1/assignment', '-m', JSON.stringify(assignment)], { encoding: 'utf8' });
    if (pub.status !== 0) throw new Error(`mosquitto_pub: ${pub.stderr}`);
    await waitFor('sim-r1 to move on the map', async () => {
      const now = [await page.getAttribute(dot, 'data-lat'), await page.getAttribute(dot, 'data-lon')];
      return now[0] !== before[0] || now[1] !== before[1];
    }, 15000);
    await sleep(2000);
    const trail = await page.getAttribute('polyline.trail:first-of-type', 'points');
    figures.trail_points_on_map = trail ? trail.trim().split(/\s+/).length : 0;
    const scale = await page.textContent('#runner-map .scale text');
    if (!/\d+ (m|km)/.test(scale)) throw new Error(`no distance scale: ${scale}`);
    await screenshot(page, 'map-after');
  });

  await test('an alert is acknowledged, with who and when', async () => {
    await page.click('#tabs button[data-tab="alerts"]');
    const item = `#alert-list li.alert[data-kind="below_reorder_point"][data-state="active"]`;
    await page.waitForSelector(item, { timeout: 15000 });
    await screenshot(page, 'alerts');
    await page.locator(item).first().locator('button.ack').click();
    await page.waitForSelector('#alert-list li.alert[data-kind="below_reorder_point"][data-state="acknowledged"]');
    const meta = await page.locator('#alert-list li.alert[data-state="acknowledged"] .meta').first().textContent();
    if (!meta.includes('acknowledged by manager')) throw new Error(`meta: ${meta}`);
    const board = await ok('GET', '/api/alert-board');
    const acked = board.alerts.find((a) => a.state === 'acknowledged');
    if (!acked || acked.acknowledged.by !== 'manager') throw new Error(JSON.stringify(board.alerts.slice(0, 3)));
    await screenshot(page, 'alert-acknowledged');
  });

  // The page reads its panels and opens its event stream side by side. An alert raised after
  // the board was read but before the stream opened must still reach the page: the stream is
  // held back here until such an alert exists.
  await test('an alert raised while the page connects is shown', async () => {
    const vctx = await openBrowser('late-alert');
    try {
      const p = vctx.pages()[0] || await vctx.newPage();
      let release;
      const streamMayOpen = new Promise((resolve) => { release = resolve; });
      await p.route('**/api/events*', async (route) => { await streamMayOpen; await route.continue(); });
      await signIn(p, 'manager');
      await p.waitForFunction(() => /\d+ active/.test(document.getElementById('alert-counts').textContent));
      const target = sku(5);
      const shown = `#alert-list li.alert[data-kind="below_reorder_point"]:has-text("${target}")`;
      if (await p.locator(shown).count()) throw new Error(`${target} was already on the board`);
      await ok('PATCH', `/api/inventory/${target}`, { bin: 'A-01', adjust: -20, reason: 'damage' });
      await waitFor(`the board to raise ${target}`, async () => {
        const board = await ok('GET', '/api/alert-board?state=open&limit=500');
        return board.alerts.some((a) => a.key === `below_reorder_point:${target}`);
      }, 15000);
      release();
      await p.click('#tabs button[data-tab="alerts"]');
      await p.waitForSelector(shown, { timeout: 10000 });
      await screenshot(p, 'late-alert');
    } finally {
      await vctx.close();
    }
  });

  await test('order board and shelf scans say when their routes are not there', async () => {
    await page.click('#tabs button[data-tab="orders"]');
    await page.waitForSelector('#order-board .col, #orders-na', { timeout: 5000 });
    await screenshot(page, 'orders');
    await page.click('#tabs button[data-tab="shelf"]');
    await page.waitForSelector('#shelf-grid > *', { timeout: 5000 });
    await screenshot(page, 'shelf');
    const strip = await page.textContent('#health');
    if (!strip.includes('broker') || !strip.includes('disk')) throw new Error(`health strip: ${strip}`);
  });

  await test('the page reconnects by itself after the daemon restarts', async () => {
    await page.click('#tabs button[data-tab="inventory"]');
    await page.fill('#stock-search', sku(9));
    await page.waitForSelector(`#stock-scroll .vrow[data-sku="${sku(9)}"]:not([hidden])`);
    await stop(edge);
    await waitFor('the page to notice', async () => (await page.textContent('#live')) !== 'live', 10000);
    edge = startEdge();
    await waitFor('the edge to answer again', async () => (await fetch(`${base}/health`)).ok, 20000);
    await waitFor('the page to be live again', async () => (await page.textContent('#live')) === 'live', 15000);
    const before = Number(await rowCell(page, sku(9), 3));
    await scan(9, 3);
    await page.waitForFunction(([s, want]) => {
      const row = document.querySelector(`#stock-scroll .vrow[data-sku="${s}"]:not([hidden])`);
      return row && Number(row.children[3].textContent) === want;
    }, [sku(9), before + 3], { timeout: 3000 });
    await screenshot(page, 'after-restart');
  });

  await test(`memory stays flat at 100 events/s for ${soakSeconds} s`, async () => {
    await page.fill('#stock-search', '');
    const sample = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { metrics } = await cdp.send('Performance.getMetrics');
      const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
      return { heap: m.JSHeapUsedSize, nodes: m.Nodes, listeners: m.JSEventListeners };
    };
    const received0 = await page.evaluate(() => window.shopeasy.live.received);
    const samples = [await sample()];
    const t0 = Date.now();
    let sent = 0;
    let failed = 0;
    let nextSample = t0 + 5000;
    // 100 scans a second, each a stock.changed event on the page.
    while (Date.now() - t0 < soakSeconds * 1000) {
      const tick = Date.now();
      const batch = [];
      for (let k = 0; k < 10; k++) {
        batch.push(scan(1 + (sent % 5000), 1, 'receive', 'B-01').catch(() => { failed++; }));
        sent++;
      }
      await Promise.all(batch);
      const wait = 100 - (Date.now() - tick);
      if (wait > 0) await sleep(wait);
      if (Date.now() >= nextSample) { samples.push(await sample()); nextSample += 5000; }
    }
    const elapsed = (Date.now() - t0) / 1000;
    await sleep(1000);
    samples.push(await sample());
    const received = (await page.evaluate(() => window.shopeasy.live.received)) - received0;
    const mb = (b) => (b / 1048576).toFixed(1);
    const heaps = samples.map((s) => s.heap);
    const third = Math.max(1, Math.floor(heaps.length / 3));
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const early = median(heaps.slice(0, third));
    const late = median(heaps.slice(-third));
    figures.soak = {
      seconds: Math.round(elapsed), scans_sent: sent, failed, rate_per_s: Math.round(sent / elapsed),
      events_received: received, heap_start_mb: mb(heaps[0]), heap_end_mb: mb(heaps[heaps.length - 1]),
      heap_max_mb: mb(Math.max(...heaps)), heap_early_median_mb: mb(early), heap_late_median_mb: mb(late),
      dom_nodes_start: samples[0].nodes, dom_nodes_end: samples[samples.length - 1].nodes,
    };
    console.log(`  ${JSON.stringify(figures.soak)}`);
    fs.writeFileSync(path.join(artifacts, 'memory-samples.json'), JSON.stringify(samples, null, 1));
    await screenshot(page, 'after-soak');
    if (received < sent * 0.95) throw new Error(`the page saw ${received} of ${sent} events`);
    if (late - early > 8 * 1048576) throw new Error(`heap grew from ${mb(early)} to ${mb(late)} MB`);
    if (samples[samples.length - 1].nodes > samples[0].nodes * 1.5 + 500) throw new Error('DOM nodes keep growing');
  });

  await test('a picker sees picking and cannot open the adjustment dialog', async () => {
    const pctx = await openBrowser('picker');
    try {
      const p = pctx.pages()[0] || await pctx.newPage();
      await signIn(p, 'picker');
      // A picker starts in handheld mode; the desktop page is one tap away.
      await p.click('#hh-desktop');
      await p.waitForSelector('#tabs button', { timeout: 10000 });
      const tabs = await p.locator('#tabs button').allTextContents();
      if (tabs[0] !== 'Picking' || tabs.some((t) => t.startsWith('Users'))) throw new Error(`tabs: ${tabs}`);
      await p.click('#tabs button[data-tab="inventory"]');
      await p.fill('#stock-search', sku(7));
      await p.click(`#stock-scroll .vrow[data-sku="${sku(7)}"]`);
      await p.waitForSelector('#detail-stock');
      if (await p.locator('#adjust-open').count()) throw new Error('the adjust button is shown to a picker');
      const opened = await p.evaluate((s) => window.shopeasy.openAdjust({ sku: s, stock: [] }), sku(7));
      if (opened || await p.locator('#adjust-dialog[open]').count()) throw new Error('the dialog opened');
      // And the server agrees, whatever the page does.
      const token = await p.evaluate(() => window.shopeasy.session.token);
      const r = await call('PATCH', `/api/inventory/${sku(7)}`, { bin: 'A-01', adjust: -1, reason: 'damage' }, token);
      if (r.status !== 403) throw new Error(`PATCH as picker -> ${r.status}`);
      await screenshot(p, 'picker');
    } finally {
      await pctx.close();
    }
  });

  // The cloud's ops page shows operators what waits for them: a store's quarantined changes.
  await test('the cloud ops page signs an operator in and shows a store with quarantined changes on its map and searches its catalog', async () => {
    const cloudPort = await freePort();
    const cloudBase = `http://127.0.0.1:${cloudPort}`;
    const opsToken = randomBytes(24).toString('hex');
    // An operator account in the cloud's own user file, made with the same tool as the
    // store's staff accounts.
    fs.mkdirSync(path.join(state, 'cloud'), { recursive: true });
    const made = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(state, 'cloud', 'audit.db'), 'add', 'ops', 'admin'],
      { input: 'ops-pass-1\n', encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`shopeasy-edge-users add ops failed: ${made.stderr}`);
    const cloud = start('cloud', path.join(binDir, 'shopeasy-cloud'), [
      `--http.port=${cloudPort}`, `--state_dir=${path.join(state, 'cloud')}`, '--http.rate_limit_per_s=0',
      `--auth.tokens=${JSON.stringify([{ name: 'ops', role: 'admin', sha256: createHash('sha256').update(opsToken).digest('hex') }])}`]);
    const pctx = await openBrowser('ops');
    try {
      await waitFor('the cloud to answer /health', async () => (await fetch(`${cloudBase}/health`).catch(() => ({ ok: false }))).ok, 20000);
      const cloudCall = async (method, p, body, token = opsToken) => {
        const res = await fetch(cloudBase + p, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        if (res.status >= 300) throw new Error(`${method} ${p}: HTTP ${res.status} ${await res.text()}`);
        return res.json();
      };
      const storeSecret = randomBytes(16).toString('hex');
      await cloudCall('PUT', '/v1/stores/ops-s1', { name: 'Ops store', lat: STORE.lat, lon: STORE.lon, service_radius_m: 3000, secret: storeSecret });
      const change = (seq, onHand) => ({ seq, kind: 'stock.changed', body: { sku: 'MILK-1L', sku_on_hand: onHand, sku_reserved: 0, version: seq } });
      const answer = await cloudCall('POST', '/v1/stores/ops-s1/sync', {
        store_id: 'ops-s1', first_seq: 1, changes: [change(1, 5), change(2, 'lots')], downstream_cursor: 0, sent_at_ms: Date.now(),
      }, `ops-s1:${storeSecret}`);
      if (answer.acked_seq !== 2) throw new Error(`sync answered ${JSON.stringify(answer)}`);
      const p = pctx.pages()[0] || await pctx.newPage();
      await p.goto(`${cloudBase}/ops`);
      await p.waitForSelector('#signin-form:not([hidden])');
      await p.fill('#signin-user', 'ops');
      await p.fill('#signin-password', 'wrong-pass');
      await p.click('#signin-submit');
      await p.waitForFunction(() => /Wrong user name or password/.test(document.getElementById('signin-error').textContent));
      await screenshot(p, 'ops-signin-refused');
      await p.fill('#signin-password', 'ops-pass-1');
      await p.click('#signin-submit');
      const row = 'tr[data-store="ops-s1"].quarantined';
      await p.waitForSelector(row, { timeout: 10000 });
      const warn = await p.textContent(`${row} td.warn`);
      if (warn.trim() !== '1') throw new Error(`quarantined cell says ${warn}`);
      // The map colours the store by its worst state; the session is an HttpOnly cookie
      // (the page never sees it) and a new tab is signed in by it.
      await p.waitForSelector('#store-map g[data-store="ops-s1"][data-state="quarantined"]');
      const cookies = await pctx.cookies(cloudBase);
      const session = cookies.find((c) => c.name === 'shopeasy_ops_session');
      if (!session || !session.httpOnly || session.sameSite !== 'Strict') throw new Error(`session cookie: ${JSON.stringify(cookies)}`);
      if ((await p.evaluate(() => document.cookie)).includes('shopeasy_ops_session')) throw new Error('the page can read the session cookie');
      const tab = await pctx.newPage();
      await tab.goto(`${cloudBase}/ops`);
      await tab.waitForSelector('tr[data-store="ops-s1"]');
      await tab.close();
      await screenshot(p, 'ops-quarantine');
      // Search as a customer near the store would: a Hinglish word finds the milk, with
      // the stock the store synced.
      await cloudCall('PUT', '/v1/catalog/MILK-1L', { name: 'Toned milk 1 L', category: 'dairy', price_cents: 6500 });
      await p.waitForSelector('#search-store option', { state: 'attached', timeout: 10000 });
      await p.fill('#search-q', 'doodh');
      const hit = '#search-rows tr[data-sku="MILK-1L"]';
      await p.waitForSelector(hit, { timeout: 10000 });
      const cells = await p.$$eval(`${hit} td`, (tds) => tds.map((td) => td.textContent));
      if (cells[3] !== '5') throw new Error(`search row says ${JSON.stringify(cells)}`);
      await p.fill('#search-q', 'zzzqqq');
      await p.waitForFunction(() => document.querySelector('#search-status').textContent.includes('nothing matches'), null, { timeout: 10000 });
      await screenshot(p, 'ops-search');
      // Signing out ends the session: a reload asks again.
      await p.click('#signout');
      await p.waitForSelector('#signin-form:not([hidden])');
      await p.reload();
      await p.waitForSelector('#signin-form:not([hidden])');
    } finally {
      await pctx.close();
      await stop(cloud);
    }
  });

  if (!only || only.test('ops fleet: ')) {
    await fleetTests({
      test, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which,
    }).catch((e) => test('ops fleet: setup', () => { throw e; }));
  }

  if (!only || args.only.includes('handheld')) {
    await handheldTests({
      test, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir,
      brokerPort, ean13, figures, which,
    }).catch((e) => test('handheld: setup', () => { throw e; }));
  }

  if (!only || args.only.includes('planning')) {
    await planningTests({
      test, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which,
    }).catch((e) => test('planning: setup', () => { throw e; }));
  }

  if (!only || args.only.includes('shop')) {
    await shopTests({
      test, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir,
      ean13, figures, which, children, soakSeconds,
    }).catch((e) => test('shop: setup', () => { throw e; }));
  }

  await test('an admin sees users and the audit log', async () => {
    const actx = await openBrowser('admin');
    try {
      const p = actx.pages()[0] || await actx.newPage();
      await signIn(p, 'admin');
      await p.click('#tabs button[data-tab="users"]');
      await p.waitForSelector('#user-rows tr[data-user="picker"]');
      await p.click('#tabs button[data-tab="audit"]');
      await p.waitForSelector('#audit-rows tr');
      await screenshot(p, 'admin-audit');
    } finally {
      await actx.close();
    }
  });
} finally {
  await ctx.close().catch(() => {});
  for (const c of children.reverse()) await stop(c);
  fs.writeFileSync(path.join(artifacts, 'figures.json'), JSON.stringify(figures, null, 2));
  if (!process.env.SHOPEASY_KEEP_TEST_DIRS) fs.rmSync(state, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok);
console.log(`\nbrowser tests: ${results.length - failed.length} passed, ${failed.length} failed; figures: ${JSON.stringify(figures)}`);
console.log(`screenshots and logs: ${artifacts}`);
process.exit(failed.length ? 1 : 0);
