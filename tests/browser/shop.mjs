// Browser tests of the customer app (/shop, served by shopeasy-cloud) at phone size
// (390x844, touch): a real cloud with a 10,000-SKU catalog, sandbox SMS and payments; a
// store of its own (mosquitto, shopeasy-edge syncing with that cloud, one
// shopeasy-runner); pickers played by API calls to the edge. A new customer signs in
// with a phone code, chooses a place, searches, orders at the quoted price, pays, and
// follows the runner to the door through a page reload and a cloud restart; then order
// history and reorder. Measured: first contentful paint of /shop with the catalog, and
// the delay from a runner's fix reaching the broker to the marker moving. Every screen
// is screenshot at phone and desktop size.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export async function shopTests(h) {
  const { test: baseTest, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which } = h;
  const dir = path.join(state, 'shop');
  fs.mkdirSync(dir, { recursive: true });
  const STORE = { lat: 12.9716, lon: 77.5946 };
  // About 1.2 km from the store, well inside its 3 km circle.
  const HOME = { latitude: 12.9806, longitude: 77.6006 };
  const adminToken = randomBytes(24).toString('hex');
  const storeSecret = randomBytes(16).toString('hex');
  const edgeToken = randomBytes(24).toString('hex');
  const sha = (s) => createHash('sha256').update(s).digest('hex');

  // ---------------------------------------------------------------- cloud
  const cloudPort = await freePort();
  const cloudBase = `http://127.0.0.1:${cloudPort}`;
  fs.writeFileSync(path.join(dir, 'cloud.json'), JSON.stringify({
    http: { port: cloudPort, rate_limit_per_s: 0 }, state_dir: path.join(dir, 'cloud'),
    auth: { tokens: [{ name: 'shop-admin', role: 'admin', sha256: sha(adminToken) }] },
    stores: { online_window_s: 30 }, payments: { provider: 'sandbox' }, accounts: { sms_provider: 'sandbox' },
  }));
  fs.mkdirSync(path.join(dir, 'cloud'), { recursive: true });
  let cloudStarts = 0;
  const startCloud = async () => {
    const c = start(`shop-cloud-${++cloudStarts}`, path.join(binDir, 'shopeasy-cloud'), ['--config', path.join(dir, 'cloud.json')]);
    await waitFor('the cloud to answer /health', async () => (await fetch(`${cloudBase}/health`).catch(() => ({ ok: false }))).ok, 20000);
    return c;
  };
  let cloud = await startCloud();
  const cloudCall = async (method, p, body) => {
    const res = await fetch(cloudBase + p, { method, headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  // The catalog: 10,000 products the store has none of, then the three it stocks.
  const seedStarted = Date.now();
  const SKUS = 10000;
  const cats = ['dairy', 'bakery', 'staples', 'home', 'drinks', 'snacks'];
  let next = 1;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next <= SKUS) {
      const i = next++;
      await cloudCall('PUT', `/v1/catalog/ZZ-${String(i).padStart(5, '0')}`, { name: `Filler product ${i}`, category: cats[i % cats.length], price_cents: 100 + i, unit: '1 pc' });
    }
  }));
  const products = [
    { sku: 'BREAD-400', name: 'Brown bread 400 g', category: 'bakery', price_cents: 4500, ean: ean13(70001) },
    { sku: 'MILK-1L', name: 'Toned milk 1 L', category: 'dairy', price_cents: 6500, ean: ean13(70002) },
    { sku: 'RICE-1KG', name: 'Basmati rice 1 kg', category: 'staples', price_cents: 12900, ean: ean13(70003) },
  ];
  await cloudCall('PUT', '/v1/stores/shop-blr', { name: 'ShopEasy Indiranagar', lat: STORE.lat, lon: STORE.lon, service_radius_m: 3000, secret: storeSecret });
  for (const p of products) await cloudCall('PUT', `/v1/catalog/${p.sku}`, { name: p.name, category: p.category, price_cents: p.price_cents, unit: '1 pc', barcodes: [`0${p.ean}`] });
  figures.shop_catalog_seed_ms = Date.now() - seedStarted;

  // ---------------------------------------------------------------- the store
  const brokerPort = await freePort();
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  start('shop-mosquitto', which('mosquitto', '/usr/sbin/mosquitto'), ['-c', path.join(dir, 'mosquitto.conf')]);
  const edgePort = await freePort();
  const edgeBase = `http://127.0.0.1:${edgePort}`;
  fs.writeFileSync(path.join(dir, 'edge.json'), JSON.stringify({
    store: { id: 'shop-blr', name: 'ShopEasy Indiranagar', lat: STORE.lat, lon: STORE.lon, durable: false },
    state_dir: dir, http: { port: edgePort, rate_limit_per_s: 0 },
    mqtt: { port: brokerPort, client_id: 'shopeasy-edge-shop-test' },
    sync: { enabled: true, url: cloudBase, heartbeat_ms: 200 },
    dispatch: { speed_mps: 25, handover_s: 1 },
    telemetry: { runners: ['shop-r1'] },
    auth: { tokens: [{ name: 'shop-seeder', role: 'admin', sha256: sha(edgeToken) }] },
  }));
  start('shop-edge', path.join(binDir, 'shopeasy-edge'), ['--config', path.join(dir, 'edge.json')], { SHOPEASY_EDGE_SYNC_STORE_SECRET: storeSecret });
  const edgeCall = async (method, p, body) => {
    const res = await fetch(edgeBase + p, { method, headers: { Authorization: `Bearer ${edgeToken}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: json, text };
  };
  await waitFor('the shop edge to answer /health', async () => (await fetch(`${edgeBase}/health`).catch(() => ({ ok: false }))).ok, 20000);
  // Every fix the runner sends, timestamped as the broker hands it on (the edge is
  // subscribed to the same broker on the same machine).
  const fixes = [];
  const sub = spawn(which('mosquitto_sub', '/usr/bin/mosquitto_sub'), ['-p', String(brokerPort), '-h', '127.0.0.1', '-t', 'runners/+/telemetry']);
  h.children?.push?.(sub);
  readline.createInterface({ input: sub.stdout }).on('line', (line) => {
    try { const f = JSON.parse(line); fixes.push({ at: Date.now(), lat: f.lat, lon: f.lon }); } catch { /* not a fix */ }
  });
  start('shop-runner', path.join(binDir, 'shopeasy-runner'), [
    '--runner.id', 'shop-r1', '--mqtt.port', String(brokerPort), '--runner.lat', String(STORE.lat), '--runner.lon', String(STORE.lon),
    '--runner.speed_mps', '25', '--runner.dwell_ms', '500', '--telemetry.interval_ms', '300', '--http.port', '0']);

  await edgeCall('POST', '/api/bins', { bins: [{ code: 'A-01', walk_order: 1 }, { code: 'A-02', walk_order: 2 }] });
  await waitFor('the catalog to reach the edge', async () => (await edgeCall('GET', `/api/stock/${products[2].sku}`)).status === 200, 60000, 200);
  for (const p of products) {
    const r = await edgeCall('POST', '/api/scans', { scan_id: `shop-seed-${p.sku}`, scanner_id: 'seed', code: p.ean, action: 'receive', qty: 40, bin: 'A-01' });
    if (r.status >= 300) throw new Error(`receive ${p.sku}: ${r.text}`);
  }
  await waitFor('the stock to reach the cloud', async () => {
    const r = await cloudCall('GET', '/v1/stores/shop-blr/replica');
    return (r.items || []).filter((i) => i.on_hand > 0).length === products.length;
  }, 30000, 200);
  console.log(`shop: cloud with ${SKUS + products.length} SKUs and a store ready in ${Date.now() - seedStarted} ms`);

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
  const profile = fs.mkdtempSync(path.join(state, 'profile-shop-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: browserArgs,
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    geolocation: HOME, permissions: ['geolocation'],
  });
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:' ? route.continue() : route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => { pageErrors.push(e.message); console.log(`shop page error: ${e.message}`); });
  let shot = 0;
  const shoot = (p, name) => p.screenshot({ path: path.join(artifacts, `shop-${String(++shot).padStart(2, '0')}-${name}.png`) });
  const test = (name, fn) => baseTest(name, async () => {
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(artifacts, `shop-FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) }).catch(() => {});
      throw e;
    }
  });
  // Nothing may run past the right edge of the screen.
  const noOverflow = async (p, what) => {
    const over = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (over > 1) {
      const wide = await p.evaluate(() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && e.offsetParent !== null).slice(0, 5).map((e) => e.outerHTML.slice(0, 100)));
      throw new Error(`${what}: the page is ${over} px wider than the screen: ${wide.join(' | ')}`);
    }
  };
  const phone = `+9198${String(Date.now()).slice(-8)}`;
  let orderId = '';

  try {
    await test('shop: a new customer signs in with the code the sandbox SMS provider kept', async () => {
      await page.goto(`${cloudBase}/shop`);
      await page.waitForSelector('#screen-signin:not([hidden])');
      await noOverflow(page, 'sign-in');
      await shoot(page, 'signin-phone');
      await page.fill('#phone', '12345');
      await page.click('#otp-form button[type=submit]');
      // The browser's own check (pattern) refuses it before any request.
      if (!(await page.$eval('#phone', (i) => !i.validity.valid))) throw new Error('a malformed number was accepted');
      await page.fill('#phone', phone);
      await page.click('#otp-form button[type=submit]');
      await page.waitForSelector('#verify-form:not([hidden])');
      const sms = await waitFor('the code in the sandbox SMS', async () => {
        const r = await cloudCall('GET', `/v1/sandbox/sms?phone=${encodeURIComponent(phone)}`);
        return (r.messages || [])[0];
      }, 10000);
      const code = /([0-9]{6})/.exec(sms.body)[1];
      const wrong = code === '000000' ? '111111' : '000000';
      await page.fill('#code', wrong);
      await page.click('#verify-form button[type=submit]');
      await page.waitForFunction(() => /wrong|expired/.test(document.getElementById('signin-error').textContent));
      await shoot(page, 'signin-code-refused');
      await page.fill('#code', code);
      await page.click('#verify-form button[type=submit]');
      await page.waitForSelector('#screen-location:not([hidden])');
    });

    await test('shop: the place comes from the drawn map of the served area or the browser\'s location, and is saved', async () => {
      await page.waitForSelector('#area-map .store[data-store="shop-blr"]');
      // A click far outside the circle is refused, naming why.
      const box = await page.locator('#area-map svg').boundingBox();
      await page.mouse.click(box.x + 3, box.y + 3);
      await page.waitForFunction(() => /do not deliver|closed|offline/.test(document.getElementById('location-status').textContent));
      if (!(await page.$eval('#location-done', (b) => b.disabled))) throw new Error('a place outside the served area could be chosen');
      // The store's own square on the map is inside its circle.
      const storeBox = await page.locator('#area-map .store rect').boundingBox();
      await page.mouse.click(storeBox.x + storeBox.width / 2 + 20, storeBox.y + storeBox.height / 2 - 20);
      await page.waitForFunction(() => /delivers there/.test(document.getElementById('location-status').textContent));
      await page.click('#geolocate');
      await page.waitForFunction(() => /delivers there/.test(document.getElementById('location-status').textContent) && document.querySelector('#area-map .address').getAttribute('visibility') === 'visible');
      await page.fill('#save-name', 'Home');
      await page.click('#save-form button[type=submit]');
      await page.waitForSelector('#saved button:has-text("Home")');
      // Saved on the server, with its geohash, not only on this phone.
      await waitFor('the saved place on the server', async () => {
        const token = await page.evaluate(() => JSON.parse(localStorage.getItem('shopeasy.shop.tokens')).access_token);
        const r = await fetch(`${cloudBase}/api/me/addresses`, { headers: { Authorization: `Bearer ${token}` } });
        const body = await r.json();
        return r.ok && (body.addresses || []).some((a) => a.address_id === 'home' && a.label === 'Home' && a.geohash.length === 9);
      }, 10000);
      await noOverflow(page, 'location');
      await shoot(page, 'location');
      await page.click('#location-done');
      await page.waitForSelector('#products li.product');
    });

    await test(`shop: first contentful paint with a ${SKUS}-SKU catalog under 1 s`, async () => {
      const p = await ctx.newPage();
      try {
        await p.addInitScript(() => {
          window.__paints = [];
          new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__paints.push({ name: e.name, at: e.startTime }); }).observe({ type: 'paint', buffered: true });
        });
        await p.goto(`${cloudBase}/shop#browse`);
        await p.waitForSelector('#products li.product');
        const m = await p.evaluate(() => ({
          fcp: (window.__paints.find((e) => e.name === 'first-contentful-paint') || {}).at,
          products: (performance.getEntriesByName('shop-first-products')[0] || {}).startTime,
          rows: document.querySelectorAll('#products li.product').length,
        }));
        figures.shop_first_contentful_paint_ms = Math.round(m.fcp);
        figures.shop_first_products_ms = Math.round(m.products);
        figures.shop_rows_in_first_render = m.rows;
        console.log(`  first contentful paint ${Math.round(m.fcp)} ms, first products ${Math.round(m.products)} ms (${m.rows} rows of ${SKUS + 3})`);
        if (!(m.fcp <= 1000)) throw new Error(`first contentful paint took ${m.fcp} ms`);
        // The first page of products follows the first paint by an API round trip; it is
        // reported above and held to a looser bound, since a loaded shared box stretches it.
        if (!(m.products <= 2000)) throw new Error(`the first products took ${m.products} ms`);
        if (m.rows >= SKUS) throw new Error('the whole catalog was rendered at once');
        // More comes on scroll.
        await p.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await p.waitForFunction((n) => document.querySelectorAll('#products li.product').length > n, m.rows);
      } finally {
        await p.close();
      }
    });

    await test('shop: categories filter the catalog and search suggests as the customer types', async () => {
      await page.bringToFront();
      await page.waitForSelector('#categories button:has-text("bakery")');
      await page.click('#categories button:has-text("bakery")');
      // What is on screen (laid out, not merely unflagged) is bakery only.
      await page.waitForFunction(() => {
        const shown = [...document.querySelectorAll('#products li.product')].filter((li) => li.offsetParent !== null);
        return shown.length > 0 && shown.every((li) => li.dataset.category === 'bakery');
      });
      await noOverflow(page, 'browse');
      await shoot(page, 'browse-category');
      await page.click('#categories button:has-text("All")');
      await page.fill('#q', 'mil');
      await page.waitForSelector('#suggestions:not([hidden]) li[data-sku="MILK-1L"]');
      await shoot(page, 'search-suggestions');
      // Keyboard: arrow to the suggestion, Enter searches for it.
      const idx = await page.$$eval('#suggestions li', (lis) => lis.findIndex((li) => li.dataset.sku === 'MILK-1L'));
      for (let i = 0; i <= idx; i++) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#products li[data-sku="MILK-1L"]');
      await page.click('#products li[data-sku="MILK-1L"] button.add');
      await page.click('#products li[data-sku="MILK-1L"] button[aria-label^="One more"]');
      await page.fill('#q', 'brown bred');  // a typo still finds it
      await page.press('#q', 'Enter');
      await page.waitForSelector('#products li[data-sku="BREAD-400"]');
      await page.click('#products li[data-sku="BREAD-400"] button.add');
      await page.waitForFunction(() => document.getElementById('cart-count').textContent === '3');
      await shoot(page, 'search-results');
    });

    await test('shop: a reload keeps the cart and the place', async () => {
      await page.reload();
      await page.waitForSelector('#screen-browse:not([hidden]) #products li.product');
      const count = await page.textContent('#cart-count');
      if (count !== '3') throw new Error(`cart count after reload: ${count}`);
      if ((await page.textContent('#where-label')) !== 'Home') throw new Error('the saved place was lost');
    });

    await test('shop: the quote shows every line and fee; the order is charged exactly its total', async () => {
      await page.click('#tab-cart');
      await page.waitForSelector('#quote table.bill');
      const total = await page.textContent('#quote-total');
      const fees = await page.$$eval('#quote tr.fee', (rows) => rows.length);
      await noOverflow(page, 'cart');
      await shoot(page, 'cart-quote');
      await page.click('#checkout');
      await page.waitForSelector('#screen-track:not([hidden])');
      orderId = await page.evaluate(() => JSON.parse(localStorage.getItem('shopeasy.shop.state')).order);
      const order = await cloudCall('GET', `/api/orders/${orderId}`);
      const charged = `₹${(order.total_cents / 100).toFixed(2)}`;
      console.log(`  quoted ${total} with ${fees} fee line(s); charged ${charged}`);
      if (charged !== total) throw new Error(`quoted ${total}, charged ${charged}`);
      await page.waitForSelector('#pay-line:not([hidden])');
      await shoot(page, 'track-pay');
    });

    await test('shop: paying on the sandbox page confirms the order on the tracking screen', async () => {
      const [pay] = await Promise.all([ctx.waitForEvent('page'), page.click('#pay-link')]);
      await pay.waitForSelector('button:has-text("Pay")');
      await pay.click('button:has-text("Pay")');
      await pay.waitForFunction(() => document.getElementById('s').textContent === 'succeeded');
      await pay.close();
      await page.waitForFunction(() => !['pending_payment', ''].includes(document.getElementById('track-state').dataset.status || ''), null, { timeout: 15000 });
      await page.waitForFunction(() => document.querySelectorAll('#notification-list li').length >= 1);
    });

    await test('shop: the runner moves toward the address; a reload and a cloud restart mid-ride lose nothing', async () => {
      await page.waitForFunction(() => document.getElementById('track-state').dataset.status === 'out_for_delivery', null, { timeout: 60000 });
      await page.waitForFunction(() => Number(document.querySelector('#track-map .runner').dataset.moves || 0) >= 2, null, { timeout: 20000 });
      const movesBefore = await page.evaluate(() => window.__shopTracking.moves.slice());
      await shoot(page, 'track-riding');
      // The ETA counts down by itself between events.
      const left1 = Number(await page.getAttribute('#eta', 'data-left-s'));
      await page.waitForFunction((l) => Number(document.getElementById('eta').dataset.leftS) < l, left1, { timeout: 3000 });
      // Reload: the same order comes back by itself, the stream resumes.
      await page.reload();
      await page.waitForSelector('#screen-track:not([hidden])');
      await page.waitForFunction(() => document.getElementById('live').textContent === 'Live');
      await page.waitForFunction((id) => window.__shopTracking && window.__shopTracking.id === id, orderId);
      // The cloud goes away and comes back; the page says so and carries on.
      const downAt = Date.now();
      await stop(cloud);
      await page.waitForFunction(() => document.getElementById('live').textContent === 'Reconnecting…', null, { timeout: 20000 });
      cloud = await startCloud();
      await page.waitForFunction(() => document.getElementById('live').textContent === 'Live', null, { timeout: 20000 });
      const upAt = Date.now();
      figures.shop_cloud_restart_to_live_again_ms = upAt - downAt;
      await page.waitForFunction(() => ['delivered'].includes(document.getElementById('track-state').dataset.status) || window.__shopTracking.moves.length >= 1, null, { timeout: 30000 });
      await page.waitForFunction(() => document.getElementById('track-state').dataset.status === 'delivered', null, { timeout: 90000 });
      const after = await page.evaluate(() => window.__shopTracking.moves.slice());
      const moves = [...movesBefore, ...after];
      // Toward the address: the last position is nearer than the first.
      const d = (p) => Math.hypot(p.lat - HOME.latitude, (p.lon - HOME.longitude) * Math.cos((HOME.latitude * Math.PI) / 180));
      if (!(d(moves[moves.length - 1]) < d(moves[0]))) throw new Error(`the runner did not get nearer: ${JSON.stringify(moves)}`);
      // Fix to marker: each move against the fix with its coordinates, as it reached the broker.
      // Fixes sent while the cloud was down (and until it was back plus a sync) wait for
      // it: they are counted apart.
      const delays = [];
      const acrossRestart = [];
      for (const m of moves) {
        const f = [...fixes].reverse().find((x) => x.at <= m.at && Math.abs(x.lat - m.lat) < 1e-6 && Math.abs(x.lon - m.lon) < 1e-6);
        if (!f) continue;
        if (f.at >= downAt - 1000 && f.at <= upAt + 2000) acrossRestart.push(m.at - f.at);
        else delays.push(m.at - f.at);
      }
      delays.sort((a, b) => a - b);
      const median = delays[Math.floor(delays.length / 2)];
      figures.shop_fix_to_marker_ms = delays.length ? { moves: moves.length, matched: delays.length, median, p90: delays[Math.floor(delays.length * 0.9)], max: delays[delays.length - 1], across_cloud_restart: acrossRestart } : null;
      console.log(`  runner marker moved ${moves.length} times; fix to marker: ${JSON.stringify(figures.shop_fix_to_marker_ms)}`);
      if (!delays.length) throw new Error('no marker move matched a runner fix');
      if (median > 1000) throw new Error(`the marker moved a median ${median} ms after the fix`);
      const notes = await page.$$eval('#notification-list li', (lis) => lis.map((li) => li.textContent));
      if (!notes.some((t) => /Delivered/.test(t))) throw new Error(`no delivered notification: ${notes}`);
      if (await page.getAttribute('#eta', 'data-final') !== 'delivered') throw new Error('the ETA line does not say delivered');
      // Delivered: the runner's marker is at the door.
      const at = await page.evaluate(() => { const r = document.querySelector('#track-map .runner'); return { lat: Number(r.dataset.lat), lon: Number(r.dataset.lon), shown: r.getAttribute('visibility') }; });
      if (at.shown !== 'visible' || Math.abs(at.lat - HOME.latitude) > 1e-4 || Math.abs(at.lon - HOME.longitude) > 1e-4) throw new Error(`runner marker after delivery: ${JSON.stringify(at)}`);
      await shoot(page, 'track-delivered');
    });

    await test('shop: order history lists the order and reorders it into the cart', async () => {
      await page.click('#tab-orders');
      await page.waitForSelector(`#order-list li[data-order="${orderId}"][data-status="delivered"]`);
      await noOverflow(page, 'orders');
      await shoot(page, 'orders');
      await page.click(`#order-list li[data-order="${orderId}"] button:has-text("Reorder")`);
      await page.waitForSelector('#screen-cart:not([hidden]) #quote table.bill');
      if ((await page.textContent('#cart-count')) !== '3') throw new Error('the reorder did not fill the cart');
      const names = await page.$$eval('#cart-lines .p-name', (s) => s.map((x) => x.textContent));
      if (!names.includes('Toned milk 1 L')) throw new Error(`cart lines: ${names}`);
    });

    await test('shop: readable at 200% zoom and usable by keyboard', async () => {
      // 200 % zoom of a 390 px screen is a 195 CSS-pixel-wide layout.
      await page.setViewportSize({ width: 195, height: 422 });
      for (const hash of ['browse', 'cart', `track/${orderId}`, 'orders']) {
        await page.evaluate((h) => { location.hash = h; }, hash);
        await page.waitForTimeout(100);
        await noOverflow(page, `${hash} at 200%`);
      }
      await page.setViewportSize({ width: 390, height: 844 });
      // Every control is a button or link with a name.
      await page.evaluate(() => { location.hash = 'browse'; });
      await page.waitForSelector('#screen-browse:not([hidden])');
      const unnamed = await page.$$eval('button, a, input', (els) => els.filter((e) => e.offsetParent !== null && !(e.getAttribute('aria-label') || e.textContent.trim() || (e.labels && e.labels.length) || e.getAttribute('title'))).map((e) => e.outerHTML.slice(0, 80)));
      if (unnamed.length) throw new Error(`controls without a name: ${unnamed}`);
      await page.focus('#q');
      await page.keyboard.press('Tab');
      if (!(await page.evaluate(() => document.activeElement.matches('#search-form button[type=submit]')))) throw new Error('Tab from the search box does not reach its button');
    });

    await test('shop: every screen at desktop size', async () => {
      // A desktop browser of its own (not a phone stretched wide), signed in as the same
      // customer with the same saved state.
      const desktop = await chromium.launch({ executablePath: chromiumPath, headless: true, args: browserArgs });
      try {
        const dctx = await desktop.newContext({ viewport: { width: 1280, height: 800 }, storageState: await ctx.storageState() });
        await dctx.route('**/*', (route) => {
          const u = new URL(route.request().url());
          return u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:' ? route.continue() : route.abort();
        });
        const d = await dctx.newPage();
        d.on('pageerror', (e) => pageErrors.push(e.message));
        await d.goto(`${cloudBase}/shop#browse`);
        for (const [hash, name, sel] of [['location', 'location', '#area-map .store'], ['browse', 'browse', '#products li.product'], ['cart', 'cart', '#quote table.bill'], [`track/${orderId}`, 'track', '#track-state[data-status]'], ['orders', 'orders', '#order-list li.order']]) {
          await d.evaluate((h) => { location.hash = h; }, hash);
          await d.waitForSelector(sel);
          await noOverflow(d, `${name} at desktop size`);
          await shoot(d, `desktop-${name}`);
        }
        await d.click('#sign-out');
        await d.waitForSelector('#screen-signin:not([hidden])');
        await shoot(d, 'desktop-signin');
      } finally {
        await desktop.close();
      }
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
    });
  } finally {
    picking = false;
    await pickers.catch(() => {});
    sub.kill('SIGTERM');
    await ctx.close().catch(() => {});
  }
}
