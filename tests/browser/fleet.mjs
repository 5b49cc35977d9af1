// Browser tests of the fleet dashboard (/ops on shopeasy-cloud) at desktop size, with a
// phone-sized and a 200%-zoom check: a real cloud, and a store of its own (mosquitto,
// shopeasy-edge syncing with that cloud, one shopeasy-runner) that takes real orders
// from placing through picking (pickers played by API calls to the edge) to the
// runner's delivery. An operator signs in with the keyboard, sees orders per minute and
// delivery percentiles from those orders, opens the store's drill-down, looks an order
// up, and flips the pricing kill switch from a tab holding only the session cookie; the
// cloud then reports dynamic pricing off (GET /v1/pricing), and a cross-site form post
// or script could not have done it; the store's manager then sees it on the store's own
// Pricing tab, and sees it turned back on without reloading.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export async function fleetTests(h) {
  const { test: baseTest, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which } = h;
  const dir = path.join(state, 'fleet');
  fs.mkdirSync(path.join(dir, 'cloud'), { recursive: true });
  const STORE = { lat: 12.9716, lon: 77.5946 };
  // About 300 m from the store: a runner at 25 m/s is there in seconds.
  const HOME = { lat: 12.9743, lon: 77.5946 };
  const adminToken = randomBytes(24).toString('hex');
  const customerToken = randomBytes(24).toString('hex');
  const storeSecret = randomBytes(16).toString('hex');
  const edgeToken = randomBytes(24).toString('hex');
  const sha = (s) => createHash('sha256').update(s).digest('hex');
  const children = [];

  // ---------------------------------------------------------------- cloud
  const made = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(dir, 'cloud', 'audit.db'), 'add', 'fleet-ops', 'admin'],
    { input: 'fleet-ops-pass-1\n', encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`shopeasy-edge-users add fleet-ops failed: ${made.stderr}`);
  const cloudPort = await freePort();
  const cloudBase = `http://127.0.0.1:${cloudPort}`;
  fs.writeFileSync(path.join(dir, 'cloud.json'), JSON.stringify({
    http: { port: cloudPort, rate_limit_per_s: 0 }, state_dir: path.join(dir, 'cloud'),
    auth: { tokens: [{ name: 'fleet-admin', role: 'admin', sha256: sha(adminToken) }, { name: 'fleet-customer', role: 'customer', sha256: sha(customerToken) }] },
    payments: { provider: 'sandbox' }, orders: { max_unpaid_per_customer: 100 },
  }));
  const startCloud = () => start('fleet-cloud', path.join(binDir, 'shopeasy-cloud'), ['--config', path.join(dir, 'cloud.json')]);
  let cloudChild = startCloud();
  children.push(cloudChild);
  await waitFor('the cloud to answer /health', async () => (await fetch(`${cloudBase}/health`).catch(() => ({ ok: false }))).ok, 20000);
  const cloudCall = async (method, p, body, token = adminToken, extra = {}) => {
    const res = await fetch(cloudBase + p, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...extra }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const products = [
    { sku: 'FLEET-MILK', name: 'Toned milk 1 L', price_cents: 6500, ean: ean13(80001) },
    { sku: 'FLEET-BREAD', name: 'Brown bread 400 g', price_cents: 4500, ean: ean13(80002) },
  ];
  await cloudCall('PUT', '/v1/stores/fleet-blr', { name: 'Fleet Koramangala', lat: STORE.lat, lon: STORE.lon, service_radius_m: 3000, secret: storeSecret });
  for (const p of products) await cloudCall('PUT', `/v1/catalog/${p.sku}`, { name: p.name, category: 'dairy', price_cents: p.price_cents, unit: '1 pc', barcodes: [`0${p.ean}`] });

  // ---------------------------------------------------------------- the store
  const brokerPort = await freePort();
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  children.push(start('fleet-mosquitto', which('mosquitto', '/usr/sbin/mosquitto'), ['-c', path.join(dir, 'mosquitto.conf')]));
  // The store's manager, who reads the store's Pricing tab after the kill switch.
  const managerPass = 'fleet-mgr-pass-1';
  const addManager = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(dir, 'users.db'), 'add', 'fleet-mgr', 'manager'],
    { input: `${managerPass}\n`, encoding: 'utf8' });
  if (addManager.status !== 0) throw new Error(`shopeasy-edge-users add fleet-mgr failed: ${addManager.stderr}`);
  const edgePort = await freePort();
  const edgeBase = `http://127.0.0.1:${edgePort}`;
  fs.writeFileSync(path.join(dir, 'edge.json'), JSON.stringify({
    store: { id: 'fleet-blr', name: 'Fleet Koramangala', lat: STORE.lat, lon: STORE.lon, durable: false },
    state_dir: dir, http: { port: edgePort, rate_limit_per_s: 0 },
    mqtt: { port: brokerPort, client_id: 'shopeasy-edge-fleet-test' },
    sync: { enabled: true, url: cloudBase, heartbeat_ms: 200 },
    dispatch: { speed_mps: 25, handover_s: 1 },
    telemetry: { runners: ['fleet-r1'] },
    auth: { tokens: [{ name: 'fleet-seeder', role: 'admin', sha256: sha(edgeToken) }] },
  }));
  children.push(start('fleet-edge', path.join(binDir, 'shopeasy-edge'), ['--config', path.join(dir, 'edge.json')], { SHOPEASY_EDGE_SYNC_STORE_SECRET: storeSecret }));
  const edgeCall = async (method, p, body) => {
    const res = await fetch(edgeBase + p, { method, headers: { Authorization: `Bearer ${edgeToken}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: json, text };
  };
  await waitFor('the fleet edge to answer /health', async () => (await fetch(`${edgeBase}/health`).catch(() => ({ ok: false }))).ok, 20000);
  children.push(start('fleet-runner', path.join(binDir, 'shopeasy-runner'), [
    '--runner.id', 'fleet-r1', '--mqtt.port', String(brokerPort), '--runner.lat', String(STORE.lat), '--runner.lon', String(STORE.lon),
    '--runner.speed_mps', '25', '--runner.dwell_ms', '300', '--telemetry.interval_ms', '300', '--http.port', '0']));
  await edgeCall('POST', '/api/bins', { bins: [{ code: 'F-01', walk_order: 1 }] });
  await waitFor('the catalog to reach the edge', async () => (await edgeCall('GET', `/api/stock/${products[1].sku}`)).status === 200, 60000, 200);
  for (const p of products) {
    const r = await edgeCall('POST', '/api/scans', { scan_id: `fleet-seed-${p.sku}`, scanner_id: 'seed', code: p.ean, action: 'receive', qty: 30, bin: 'F-01' });
    if (r.status >= 300) throw new Error(`receive ${p.sku}: ${r.text}`);
  }
  await waitFor('the stock to reach the cloud', async () => {
    const r = await cloudCall('GET', '/v1/stores/fleet-blr/replica');
    return (r.items || []).filter((i) => i.on_hand > 0).length === products.length;
  }, 30000, 200);

  // Pickers: whatever the store accepts is picked unit by unit and packed.
  let picking = true;
  const pickers = (async () => {
    while (picking) {
      for (const status of ['accepted', 'picking']) {
        const list = await edgeCall('GET', `/api/orders?status=${status}`).catch(() => ({ body: null }));
        for (const o of (list.body && list.body.items) || []) {
          const pl = await edgeCall('GET', `/api/orders/${o.order_id}/picklist`);
          for (const e of (pl.body && pl.body.entries) || []) {
            for (let n = 0; n < Number(e.qty || 0); n++) {
              await edgeCall('POST', `/api/orders/${o.order_id}/pick`, { code: (e.barcodes || [])[0], bin: e.bin, scan_id: randomBytes(8).toString('hex') });
            }
          }
          await edgeCall('POST', `/api/orders/${o.order_id}/pack`, {});
        }
      }
      await sleep(200);
    }
  })();

  // ---------------------------------------------------------------- the browser
  const profile = fs.mkdtempSync(path.join(state, 'profile-fleet-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: browserArgs, viewport: { width: 1400, height: 900 },
  });
  // Only the cloud (and pages made here) may be reached.
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return u.hostname === '127.0.0.1' || u.protocol === 'data:' ? route.continue() : route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => { pageErrors.push(e.message); console.log(`fleet page error: ${e.message}`); });
  let shot = 0;
  const shoot = (p, name) => p.screenshot({ path: path.join(artifacts, `fleet-${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  const test = (name, fn) => baseTest(name, async () => {
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(artifacts, `fleet-FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) }).catch(() => {});
      throw e;
    }
  });
  const noOverflow = async (p, what) => {
    const over = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (over > 1) {
      const wide = await p.evaluate(() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && e.offsetParent !== null).slice(0, 5).map((e) => e.outerHTML.slice(0, 100)));
      throw new Error(`${what}: the page is ${over} px wider than the screen: ${wide.join(' | ')}`);
    }
  };
  const orderIds = [];

  try {
    await test('ops fleet: orders placed, paid, picked and delivered through the real store', async () => {
      const started = Date.now();
      for (let i = 0; i < 3; i++) {
        const placed = await cloudCall('POST', '/api/orders', {
          lines: [{ sku: products[i % 2].sku, qty: 1 }], delivery: { lat: HOME.lat, lon: HOME.lon },
        }, customerToken, { 'Idempotency-Key': `fleet-${i}-${randomBytes(4).toString('hex')}` });
        await cloudCall('POST', `/sandbox/pay/${placed.payment.intent_id}`, { outcome: 'succeed' });
        orderIds.push(placed.order_id);
      }
      await waitFor('every order to be delivered', async () => {
        const all = await Promise.all(orderIds.map((id) => cloudCall('GET', `/v1/orders/${id}`)));
        return all.every((o) => o.order.status === 'delivered');
      }, 150000, 500);
      figures.fleet_three_orders_delivered_ms = Date.now() - started;
    });

    await test('ops fleet: an operator signs in with the keyboard and sees orders per minute and delivery percentiles', async () => {
      await page.goto(`${cloudBase}/ops`);
      await page.waitForSelector('#signin-form:not([hidden])');
      await page.focus('#signin-user');
      await page.keyboard.type('fleet-ops');
      await page.keyboard.press('Tab');
      await page.keyboard.type('fleet-ops-pass-1');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => Number(document.getElementById('opm-total')?.textContent) >= 3, null, { timeout: 15000 });
      await page.waitForFunction(() => /min/.test(document.getElementById('delivery-p50')?.textContent || ''), null, { timeout: 15000 });
      const onTime = await page.textContent('#delivery-on-time');
      if (!/of 3$/.test(onTime)) throw new Error(`on-time tile says ${onTime}`);
      const p50 = await page.textContent('#delivery-p50');
      const spark = await page.getAttribute('#tile-opm-body svg.spark', 'aria-label');
      if (!/3 in all/.test(spark)) throw new Error(`sparkline label: ${spark}`);
      // The same figures as the API gives.
      const api = await cloudCall('GET', '/v1/fleet/summary');
      if (api.delivery.delivered !== 3 || `${(api.delivery.p50_s / 60).toFixed(1)} min` !== p50) throw new Error(`page p50 ${p50}, API ${JSON.stringify(api.delivery)}`);
      await page.waitForSelector('#stores tr[data-store="fleet-blr"] td.surge');
      const surge = await page.textContent('#stores tr[data-store="fleet-blr"] td.surge');
      if (!/base|step/.test(surge)) throw new Error(`surge cell says ${surge}`);
      // Another window: the same three deliveries in the last 15 minutes.
      await page.selectOption('#window', '900');
      await page.waitForFunction(() => /in the last 15 min/.test(document.getElementById('delivery-count')?.textContent || ''), null, { timeout: 10000 });
      const count = await page.textContent('#delivery-count');
      if (!count.startsWith('3 delivered')) throw new Error(`15-minute window says ${count}`);
      await page.selectOption('#window', '3600');
      figures.fleet_delivery_p50 = p50;
      await shoot(page, 'dashboard');
    });

    await test('ops fleet: the store drill-down opens from the keyboard and shows its orders', async () => {
      await page.focus('#stores button[data-store="fleet-blr"]');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#drill:not([hidden])');
      await page.waitForFunction(() => document.getElementById('drill-orders')?.textContent === '3', null, { timeout: 10000 });
      if (!(await page.evaluate(() => document.activeElement?.id === 'drill'))) throw new Error('focus did not move to the drill-down');
      const title = await page.textContent('#drill-title');
      if (!title.includes('fleet-blr')) throw new Error(`drill-down title: ${title}`);
      // The store's edge is caught up: nothing of its outbox waits for the cloud.
      const unsynced = await page.textContent('#drill-unsynced');
      if (unsynced !== 'none') throw new Error(`oldest unsynced change of a caught-up store: ${unsynced}`);
      await page.waitForSelector('#drill-open tr[data-status="picking"]', { state: 'attached' });
      await shoot(page, 'drill-down');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#drill', { state: 'hidden' });
      if (!(await page.evaluate(() => document.activeElement?.dataset.store === 'fleet-blr'))) throw new Error('focus did not return to the store');
    });

    await test('ops fleet: an order looked up by id shows its status and events', async () => {
      await page.focus('#order-id');
      await page.keyboard.type(orderIds[0]);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.getElementById('order-status')?.textContent === 'delivered', null, { timeout: 10000 });
      const events = await page.$$eval('#order-events tr', (rows) => rows.map((r) => r.children[1].textContent));
      for (const s of ['pending payment', 'routed', 'out for delivery', 'delivered']) {
        if (!events.includes(s)) throw new Error(`events ${JSON.stringify(events)} lack ${s}`);
      }
      await shoot(page, 'order-lookup');
      await page.fill('#order-id', 'ord_nope');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /No order ord_nope/.test(document.getElementById('order-error').textContent), null, { timeout: 10000 });
    });

    await test('ops fleet: the kill switch flips from a cookie-only tab, and another site cannot flip it', async () => {
      const before = await cloudCall('GET', '/v1/pricing');
      if (before.enabled !== true) throw new Error('pricing starts off');
      // Another site: a form post (the cookie is SameSite=Strict, and there is no POST
      // route) and a script (no CORS: the browser refuses before the PUT is sent).
      const evil = await ctx.newPage();
      await evil.goto(`data:text/html,<form method="post" enctype="text/plain" action="${cloudBase}/v1/pricing/enabled"><input name='{"enabled":false,"x":"' value='"}'></form>`);
      await Promise.all([evil.waitForNavigation().catch(() => {}), evil.evaluate(() => document.forms[0].submit())]);
      const scripted = await evil.evaluate(async (url) => {
        try {
          const r = await fetch(url, { method: 'PUT', credentials: 'include', headers: { 'Content-Type': 'application/json', 'X-ShopEasy-CSRF': 'guess' }, body: '{"enabled":false}' });
          return `answered ${r.status}`;
        } catch (e) { return 'refused'; }
      }, `${cloudBase}/v1/pricing/enabled`);
      await evil.close();
      // A real browser stops the script at the CORS preflight; under request interception
      // Playwright answers preflights itself, so the request may reach the cloud, whose
      // Origin and CSRF checks must then refuse it.
      if (!['refused', 'answered 401', 'answered 403'].includes(scripted)) throw new Error(`a cross-site script got: ${scripted}`);
      if ((await cloudCall('GET', '/v1/pricing')).enabled !== true) throw new Error('a cross-site request turned pricing off');
      // A new tab has the cookie but not the bearer token (kept per tab).
      const tab = await ctx.newPage();
      await tab.goto(`${cloudBase}/ops`);
      await tab.waitForSelector('#kill-switch[aria-pressed="false"]', { timeout: 15000 });
      if (await tab.evaluate(() => sessionStorage.getItem('shopeasy.ops.session'))) throw new Error('the new tab has a bearer token');
      const asked = [];
      tab.on('dialog', (d) => { asked.push(d.message()); d.accept(); });
      await tab.focus('#kill-switch');
      await tab.keyboard.press('Space');
      await tab.waitForSelector('#kill-switch[aria-pressed="true"]', { timeout: 10000 });
      if (!asked.length || !/off/.test(asked[0])) throw new Error(`confirmation: ${asked}`);
      const after = await cloudCall('GET', '/v1/pricing');
      if (after.enabled !== false) throw new Error(`GET /v1/pricing still says enabled: ${JSON.stringify(after)}`);
      const state = await tab.textContent('#pricing-state');
      if (!/Kill switch on/.test(state)) throw new Error(`pricing tile says ${state}`);
      const audit = await cloudCall('GET', '/v1/audit?action=pricing.switch.put');
      if (!JSON.stringify(audit).includes('fleet-ops')) throw new Error(`audit: ${JSON.stringify(audit)}`);
      await shoot(tab, 'kill-switch-on');
      // The first tab sees it on its next refresh.
      await page.waitForSelector('#kill-switch[aria-pressed="true"]', { timeout: 10000 });
      await tab.close();
      // The store hears it too: its manager's Pricing tab says base prices everywhere,
      // within a second of the switch (the edge follows the cloud's view with held
      // requests and the tab listens for pricing.updated).
      const store = await ctx.newPage();
      store.on('pageerror', (e) => { pageErrors.push(e.message); console.log(`fleet store page error: ${e.message}`); });
      await store.goto(`${edgeBase}/#pricing`);
      await store.fill('#login-user', 'fleet-mgr');
      await store.fill('#login-password', managerPass);
      await store.click('#login-submit');
      await store.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
      await store.click('button[data-tab="pricing"]');
      await store.waitForFunction(() => /Dynamic pricing OFF/.test(document.getElementById('pricing-state')?.textContent || ''), null, { timeout: 10000 });
      const fee = await store.textContent('#pricing-fee');
      if (!/₹25\.00/.test(fee)) throw new Error(`the store's Pricing tab shows the fee as ${fee}`);
      await shoot(store, 'store-pricing-off');
      // Back on: the open tab follows without a reload.
      await cloudCall('PUT', '/v1/pricing/enabled', { enabled: true });
      const back = Date.now();
      await store.waitForFunction(() => /Dynamic pricing on/.test(document.getElementById('pricing-state')?.textContent || ''), null, { timeout: 10000 });
      figures.store_pricing_on_ms = Date.now() - back;
      await store.close();
    });

    await test('ops fleet: the synonyms editor saves groups from a cookie-only tab and names a bad line', async () => {
      const tab = await ctx.newPage();
      await tab.goto(`${cloudBase}/ops`);
      await tab.waitForFunction(() => /groups of your own/.test(document.getElementById('synonyms-status').textContent), null, { timeout: 15000 });
      if (await tab.evaluate(() => sessionStorage.getItem('shopeasy.ops.session'))) throw new Error('the new tab has a bearer token');
      const status = () => tab.textContent('#synonyms-status');
      // A line with one spelling is refused on the page; one the server refuses is named.
      await tab.fill('#synonyms-text', 'chai patti, tea leaves\nsingleword');
      await tab.click('#synonyms-save');
      await tab.waitForFunction(() => /Line 2 has one spelling/.test(document.getElementById('synonyms-status').textContent));
      await tab.fill('#synonyms-text', `chai patti, tea leaves\nmilkman, ${'x'.repeat(70)}`);
      await tab.click('#synonyms-save');
      await tab.waitForFunction(() => /^Line 2: /.test(document.getElementById('synonyms-status').textContent), null, { timeout: 10000 });
      if ((await cloudCall('GET', '/v1/search/synonyms')).groups.length !== 0) throw new Error('a refused save stored something');
      await tab.fill('#synonyms-text', 'chai patti, tea leaves\ndoodh wala, milkman');
      await tab.focus('#synonyms-save');
      await tab.keyboard.press('Enter');
      await tab.waitForFunction(() => /Saved: 2 groups/.test(document.getElementById('synonyms-status').textContent), null, { timeout: 10000 });
      const stored = await cloudCall('GET', '/v1/search/synonyms');
      if (!JSON.stringify(stored.groups).includes('tea leaves')) throw new Error(`stored: ${JSON.stringify(stored)} (page: ${await status()})`);
      const audit = await cloudCall('GET', '/v1/audit?action=search.synonyms.put');
      if (!JSON.stringify(audit).includes('fleet-ops')) throw new Error(`audit: ${JSON.stringify(audit)}`);
      await shoot(tab, 'synonyms');
      await tab.close();
    });

    await test('ops fleet: the dashboard reflows at phone size and at 200% zoom', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForSelector('#tile-opm-body svg.spark');
      await noOverflow(page, 'phone');
      await shoot(page, 'phone');
      // 200% zoom of a 1400 px window: half as many CSS pixels, each drawn twice.
      await page.setViewportSize({ width: 700, height: 450 });
      await noOverflow(page, '200% zoom');
      await shoot(page, 'zoom-200');
      await page.setViewportSize({ width: 1400, height: 900 });
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
    });

    // Last: it adds an order the tests above do not count.
    await test('ops fleet: a new order shows by itself over the live stream, which comes back after a cloud restart', async () => {
      await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', null, { timeout: 10000 });
      const before = Number(await page.textContent('#opm-total'));
      const started = Date.now();
      const placed = await cloudCall('POST', '/api/orders', {
        lines: [{ sku: products[0].sku, qty: 1 }], delivery: { lat: HOME.lat, lon: HOME.lon },
      }, customerToken, { 'Idempotency-Key': `fleet-live-${randomBytes(4).toString('hex')}` });
      if (!placed.order_id) throw new Error(`order not placed: ${JSON.stringify(placed)}`);
      await page.waitForFunction((n) => Number(document.getElementById('opm-total')?.textContent) === n, before + 1, { timeout: 10000 });
      figures.fleet_new_order_on_page_ms = Date.now() - started;
      // The cloud goes away: the page says so, then picks the stream up again by itself.
      await stop(cloudChild);
      await page.waitForFunction(() => document.getElementById('live')?.textContent === 'reconnecting', null, { timeout: 10000 });
      cloudChild = startCloud();
      children.push(cloudChild);
      const restarted = Date.now();
      await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', null, { timeout: 30000 });
      figures.fleet_live_again_after_restart_ms = Date.now() - restarted;
      if (Number(await page.textContent('#opm-total')) !== before + 1) throw new Error('the figures changed across the restart');
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
    });
  } finally {
    picking = false;
    await pickers.catch(() => {});
    await ctx.close().catch(() => {});
    for (const c of children.reverse()) await stop(c);
  }
}
