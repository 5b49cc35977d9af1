// Browser tests of the customer app (/shop, served by shopeasy-cloud) at phone size
// (390x844, touch): a real cloud with a 10,000-SKU catalog, sandbox SMS and payments; a
// store of its own (mosquitto, shopeasy-edge syncing with that cloud, one
// shopeasy-runner); pickers played by API calls to the edge. A new customer signs in
// with a phone code, chooses a place, searches, orders at the quoted price, pays, and
// follows the runner to the door through a page reload and a cloud restart; then order
// history and reorder; the app installed and opened with the cloud down and with no
// network (service worker); account deletion, refused while an order is open and done by
// keyboard with a delivered order, after which the old session is refused. Measured:
// first contentful paint of /shop with the catalog, and the delay from a runner's fix
// reaching the broker to the marker moving. Every screen is screenshot at phone and
// desktop size.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export async function shopTests(h) {
  const { test: baseTest, start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which } = h;
  const soakSeconds = h.soakSeconds || 60;
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

    await test(`shop: memory stays flat while a customer browses, searches and fills the cart for ${soakSeconds} s`, async () => {
      // What a customer does over and over in a long session: categories, suggestions as
      // they type, search results, the cart priced by a quote, their order history. The
      // heap after a forced collection must not climb, nor the page's element count.
      // Waits go through locators: an element handle (page.waitForSelector) keeps its
      // node alive after the page drops it, which would count as the page's leak.
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Performance.enable');
      const sample = async () => {
        await cdp.send('HeapProfiler.collectGarbage');
        const { metrics } = await cdp.send('Performance.getMetrics');
        const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
        return { heap: m.JSHeapUsedSize, nodes: m.Nodes, listeners: m.JSEventListeners };
      };
      const words = ['mil', 'doodh', 'brown bred', 'filler 12', 'bread'];  // each finds something
      await page.evaluate(() => { location.hash = 'browse'; });
      await page.waitForSelector('#screen-browse:not([hidden])');
      const samples = [await sample()];
      const t0 = Date.now();
      let nextSample = t0 + 5000;
      let rounds = 0;
      while (Date.now() - t0 < soakSeconds * 1000) {
        const cat = cats[rounds % cats.length];
        await page.evaluate(() => { location.hash = 'browse'; });
        await page.click(`#categories button:has-text("${cat}")`);
        await page.waitForFunction((c) => [...document.querySelectorAll('#products li.product')].some((li) => li.offsetParent !== null && li.dataset.category === c), cat);
        await page.click('#categories button:has-text("All")');
        await page.fill('#q', words[rounds % words.length]);
        await page.press('#q', 'Enter');
        await page.locator('#products li.product').first().waitFor();
        await page.fill('#q', 'mil');
        await page.locator('#suggestions:not([hidden]) li[data-sku="MILK-1L"]').first().waitFor();
        await page.press('#q', 'Escape');
        await page.evaluate(() => { location.hash = 'cart'; });
        await page.locator('#screen-cart:not([hidden])').first().waitFor();
        await page.evaluate(() => { location.hash = 'orders'; });
        await page.locator(`#order-list li[data-order="${orderId}"]`).first().waitFor();
        rounds++;
        if (Date.now() >= nextSample) { samples.push(await sample()); nextSample += 5000; }
      }
      const elapsed = (Date.now() - t0) / 1000;
      samples.push(await sample());
      await cdp.detach();
      const mb = (b) => (b / 1048576).toFixed(1);
      const heaps = samples.map((x) => x.heap);
      const third = Math.max(1, Math.floor(heaps.length / 3));
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const early = median(heaps.slice(0, third));
      const late = median(heaps.slice(-third));
      figures.shop_soak = {
        seconds: Math.round(elapsed), rounds, heap_start_mb: mb(heaps[0]), heap_end_mb: mb(heaps[heaps.length - 1]),
        heap_max_mb: mb(Math.max(...heaps)), heap_early_median_mb: mb(early), heap_late_median_mb: mb(late),
        dom_nodes_start: samples[0].nodes, dom_nodes_end: samples[samples.length - 1].nodes,
        listeners_start: samples[0].listeners, listeners_end: samples[samples.length - 1].listeners,
      };
      console.log(`  ${JSON.stringify(figures.shop_soak)}`);
      fs.writeFileSync(path.join(artifacts, 'shop-memory-samples.json'), JSON.stringify(samples, null, 1));
      if (rounds < 3) throw new Error(`only ${rounds} rounds in ${elapsed} s`);
      if (late - early > 8 * 1048576) throw new Error(`heap grew from ${mb(early)} to ${mb(late)} MB`);
      const nodes0 = samples[0].nodes;
      if (samples[samples.length - 1].nodes > nodes0 * 1.5 + 500) throw new Error(`DOM nodes grew from ${nodes0} to ${samples[samples.length - 1].nodes}`);
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

    // ---------------------------------------------------------------- offline, account deletion
    // A customer signed in through the API (a code from the sandbox outbox).
    const signInByApi = async (number) => {
      const sent = await fetch(`${cloudBase}/api/auth/otp`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ phone: number }) });
      if (sent.status !== 202) throw new Error(`code for ${number}: HTTP ${sent.status} ${await sent.text()}`);
      const sms = await waitFor('the code in the sandbox SMS', async () => ((await cloudCall('GET', `/v1/sandbox/sms?phone=${encodeURIComponent(number)}`)).messages || [])[0], 10000);
      const verified = await fetch(`${cloudBase}/api/auth/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ phone: number, code: /([0-9]{6})/.exec(sms.body)[1] }) });
      if (!verified.ok) throw new Error(`sign-in of ${number}: HTTP ${verified.status} ${await verified.text()}`);
      return verified.json();
    };
    const asCustomer = (token, method, p, body, headers = {}) => fetch(cloudBase + p, {
      method, headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const phoneSize = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    const home = { lat: HOME.latitude, lon: HOME.longitude, label: 'Home' };
    // Opens /shop in `p` as the customer of `tokens`, at `hash`.
    const openSignedIn = async (p, tokens, hash) => {
      await p.goto(`${cloudBase}/shop`);
      await p.evaluate(([t, place, h]) => {
        localStorage.setItem('shopeasy.shop.tokens', JSON.stringify({ access_token: t.access_token, refresh_token: t.refresh_token }));
        localStorage.setItem('shopeasy.shop.state', JSON.stringify({ location: place }));
        location.hash = h;
      }, [tokens, home, hash]);
      await p.reload();
    };

    await test('shop: installable; a service worker opens the shell with the cloud down and never answers the API from its cache', async () => {
      const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: browserArgs });
      try {
        // No request routing here: Playwright's interception would take the service
        // worker's place for the page's requests. The page reaches only its own origin (CSP).
        const c = await browser.newContext(phoneSize);
        const p = await c.newPage();
        p.on('pageerror', (e) => pageErrors.push(e.message));
        const tokens = await signInByApi(`+9196${String(Date.now()).slice(-8)}`);
        // Left by an older build (and by someone else) before this worker installs: the
        // worker drops the older build's cache when it activates and leaves the other.
        await p.goto(`${cloudBase}/health`);
        await p.evaluate(async () => { await caches.open('shopeasy-shop-0000000000000000'); await caches.open('not-the-shop'); });
        await openSignedIn(p, tokens, 'browse');
        await p.waitForSelector('#products li.product');
        // After the first load the worker controls the page (it claims it on activation).
        await p.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
        const sw = await p.evaluate(async () => {
          const reg = await navigator.serviceWorker.getRegistration('/shop');
          return { scope: reg && reg.scope, script: reg && reg.active && reg.active.scriptURL, caches: await caches.keys() };
        });
        if (sw.scope !== `${cloudBase}/shop` || sw.script !== `${cloudBase}/shop/sw.js`) throw new Error(`registration: ${JSON.stringify(sw)}`);
        const ours = sw.caches.filter((n) => n.startsWith('shopeasy-shop-'));
        if (ours.length !== 1 || !/^shopeasy-shop-[0-9a-f]{16}$/.test(ours[0]) || ours[0] === 'shopeasy-shop-0000000000000000' || !sw.caches.includes('not-the-shop')) {
          throw new Error(`caches after activation: ${sw.caches}`);
        }
        // Chromium's own installability check (manifest, icon, worker), on the first
        // customer's phone: a persistent profile (a context like `c` is always "in
        // incognito", where no install is offered). The session is detached at once: a page
        // with a raw CDP session attached ignores setOffline.
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 });
        const cdp = await ctx.newCDPSession(page);
        const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
        const manifestErrors = (await cdp.send('Page.getAppManifest')).errors;
        await cdp.detach();
        if (installabilityErrors.length || manifestErrors.length) throw new Error(`not installable: ${JSON.stringify({ installabilityErrors, manifestErrors })}`);
        // Online, the shell comes from the worker, the API from the network.
        const responses = [];
        p.on('response', (r) => responses.push({ path: new URL(r.url()).pathname, sw: r.fromServiceWorker(), status: r.status() }));
        await p.reload();
        await p.waitForSelector('#products li.product');
        const shell = responses.filter((r) => r.path === '/shop' || r.path === '/shop/app.js');
        const apiCalls = responses.filter((r) => r.path.startsWith('/api/'));
        if (shell.length < 2 || !shell.every((r) => r.sw)) throw new Error(`shell responses: ${JSON.stringify(shell)}`);
        if (!apiCalls.length || apiCalls.some((r) => r.sw)) throw new Error(`API responses: ${JSON.stringify(apiCalls)}`);
        if (!(await p.isHidden('#offline'))) throw new Error('the offline notice shows while online');

        // The cloud goes away: a reload still shows the app, saying it is offline.
        await stop(cloud);
        try {
          await p.reload();
          await p.waitForSelector('#screen-browse:not([hidden])');
          await p.waitForSelector('#offline:not([hidden])');
          const notice = await p.textContent('#offline');
          if (!/offline/i.test(notice)) throw new Error(`notice: ${notice}`);
          if ((await p.title()) !== 'ShopEasy' || !(await p.isVisible('header.top .brand'))) throw new Error('the shell did not load');
          // The API is not answered from any cache.
          const offlineCall = await p.evaluate(async (t) => {
            try { return String((await fetch('/api/me/orders', { headers: { Authorization: `Bearer ${t}` } })).status); } catch { return 'failed'; }
          }, tokens.access_token);
          if (offlineCall !== 'failed') throw new Error(`GET /api/me/orders with the cloud down answered ${offlineCall}`);
          const cached = await p.evaluate(async () => {
            const out = [];
            for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) out.push(new URL(r.url).pathname);
            return out;
          });
          if (!cached.length || cached.some((u) => !u.startsWith('/shop') || u === '/shop/sw.js')) throw new Error(`cached: ${cached}`);
          await noOverflow(p, 'offline');
          await shoot(p, 'offline-cloud-down');
        } finally {
          cloud = await startCloud();
        }
        // Back: the next calls answer and the notice goes.
        await p.reload();
        await p.waitForSelector('#products li.product');
        await p.waitForSelector('#offline[hidden]', { state: 'attached' });
        // No network at all: the same shell, with the browser's own offline state named.
        await c.setOffline(true);
        try {
          await p.reload();
          await p.waitForSelector('#screen-browse:not([hidden])');
          await p.waitForFunction(() => /You are offline/.test(document.getElementById('offline').textContent) && !document.getElementById('offline').hidden);
          await shoot(p, 'offline-no-network');
        } finally {
          await c.setOffline(false);
        }
      } finally {
        await browser.close();
      }
    });

    await test('shop: deleting an account with an open order is refused with the server\'s reason; the account stays', async () => {
      const tokens = await signInByApi(`+9197${String(Date.now()).slice(-8)}`);
      const placed = await asCustomer(tokens.access_token, 'POST', '/api/orders',
        { lines: [{ sku: 'MILK-1L', qty: 1 }], delivery: { lat: HOME.latitude, lon: HOME.longitude } }, { 'Idempotency-Key': `open-${Date.now()}` });
      if (placed.status !== 201) throw new Error(`order: HTTP ${placed.status} ${await placed.text()}`);
      const open = await placed.json();
      const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: browserArgs });
      try {
        const c = await browser.newContext(phoneSize);
        await c.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
        const p = await c.newPage();
        p.on('pageerror', (e) => pageErrors.push(e.message));
        await openSignedIn(p, tokens, 'orders');
        await p.waitForSelector(`#order-list li[data-order="${open.order_id}"]`);
        await p.waitForFunction(() => /Signed in as/.test(document.getElementById('account-phone').textContent));
        await p.click('#delete-open');
        await p.waitForSelector('#delete-dialog[open]');
        const what = await p.textContent('#delete-what');
        if (!/anonymised/.test(what) || !/accounting/.test(what) || !/open/.test(what)) throw new Error(`the confirmation does not say what happens: ${what}`);
        await noOverflow(p, 'delete confirmation');
        await shoot(p, 'delete-confirm');
        await p.click('#delete-confirm');
        await p.waitForFunction(() => /not deleted/.test(document.getElementById('delete-error').textContent));
        const why = await p.textContent('#delete-error');
        if (!/still open/.test(why)) throw new Error(`the refusal does not give the server's reason: ${why}`);
        await shoot(p, 'delete-refused');
        // Escape closes it; nothing changed: still signed in, the account and order answer.
        await p.keyboard.press('Escape');
        await p.waitForSelector('#delete-dialog:not([open])', { state: 'attached' });
        if (!(await p.isVisible('#screen-orders'))) throw new Error('the orders screen went away');
        if (!(await p.evaluate(() => document.activeElement && document.activeElement.id === 'delete-open'))) throw new Error('focus did not return to the button');
        const me = await asCustomer(tokens.access_token, 'GET', '/api/me');
        if (me.status !== 200) throw new Error(`GET /api/me after the refusal: ${me.status}`);
        const mine = await (await asCustomer(tokens.access_token, 'GET', '/api/me/orders')).json();
        if (!(mine.orders || []).some((o) => o.order_id === open.order_id)) throw new Error('the open order is gone');
        await asCustomer(tokens.access_token, 'POST', `/api/orders/${open.order_id}/cancel`, {});
      } finally {
        await browser.close();
      }
    });

    await test('shop: a customer with a delivered order deletes the account by keyboard; the old session cannot load history', async () => {
      await page.bringToFront();
      await page.setViewportSize({ width: 390, height: 844 });
      // Signed in again as the first customer (the desktop test signed that session out).
      const before = ((await cloudCall('GET', `/v1/sandbox/sms?phone=${encodeURIComponent(phone)}`)).messages || []).length;
      await page.evaluate(() => { localStorage.removeItem('shopeasy.shop.tokens'); sessionStorage.clear(); location.hash = ''; });
      await page.reload();
      await page.waitForSelector('#screen-signin:not([hidden]) #otp-form:not([hidden])');
      await page.fill('#phone', phone);
      await page.click('#otp-form button[type=submit]');
      const sms = await waitFor('a new code', async () => {
        const m = (await cloudCall('GET', `/v1/sandbox/sms?phone=${encodeURIComponent(phone)}`)).messages || [];
        return m.length > before && m[0];
      }, 10000);
      await page.fill('#code', /([0-9]{6})/.exec(sms.body)[1]);
      await page.click('#verify-form button[type=submit]');
      await page.waitForSelector('#screen-browse:not([hidden])');
      await page.evaluate(() => { location.hash = 'orders'; });
      await page.waitForSelector(`#order-list li[data-order="${orderId}"][data-status="delivered"]`);
      const old = await page.evaluate(() => JSON.parse(localStorage.getItem('shopeasy.shop.tokens')));
      // By keyboard: the button opens the dialog with "Keep my account" focused; Tab, Enter.
      await page.focus('#delete-open');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#delete-dialog[open]');
      if (!(await page.evaluate(() => document.activeElement.id === 'delete-cancel'))) throw new Error('focus is not on "Keep my account"');
      await page.keyboard.press('Tab');
      if (!(await page.evaluate(() => document.activeElement.id === 'delete-confirm'))) throw new Error('Tab does not reach the delete button');
      await page.keyboard.press('Enter');
      // Signed out, back at the start, nothing of the customer left on the phone.
      await page.waitForSelector('#screen-signin:not([hidden])');
      await page.waitForSelector('#delete-dialog:not([open])', { state: 'attached' });
      const left = await page.evaluate(() => ({ tokens: localStorage.getItem('shopeasy.shop.tokens'), state: JSON.parse(localStorage.getItem('shopeasy.shop.state') || '{}') }));
      if (left.tokens || (left.state.cart || []).length || left.state.order || (left.state.saved || []).length) throw new Error(`left on the phone: ${JSON.stringify(left)}`);
      await noOverflow(page, 'after deletion');
      await shoot(page, 'deleted-signed-out');
      await page.evaluate(() => { location.hash = 'orders'; });
      await page.waitForSelector('#screen-signin:not([hidden])');
      // The old session is refused at once, though its access token has not expired.
      const history = await asCustomer(old.access_token, 'GET', '/api/me/orders');
      const body = await history.json().catch(() => null);
      if (history.status !== 401 || !body || body.error.code !== 'unauthenticated') throw new Error(`old token on /api/me/orders: ${history.status} ${JSON.stringify(body)}`);
      const refreshed = await fetch(`${cloudBase}/api/auth/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: old.refresh_token }) });
      if (refreshed.status !== 401) throw new Error(`old refresh token: ${refreshed.status}`);
      // The order is kept for accounting.
      const kept = await cloudCall('GET', `/api/orders/${orderId}`);
      if (kept.status !== 'delivered') throw new Error(`the kept order: ${JSON.stringify(kept)}`);
      if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
    });
  } finally {
    picking = false;
    await pickers.catch(() => {});
    sub.kill('SIGTERM');
    await ctx.close().catch(() => {});
  }
}
