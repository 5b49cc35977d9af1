// Browser tests of the handheld mode at phone size (390x844, touch): a store box of its
// own (shopeasy-edge syncing with a small stand-in for the cloud that routes orders to
// it, and the run's mosquitto broker), a picker who picks and packs with an emulated
// keyboard-wedge scanner, a network drop in the middle of an order, and the receive,
// move and count screens. Every screen is screenshot and checked for anything cut off
// or running past the viewport.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

// The cloud's side of the sync exchange, reduced to what the edge needs: every change is
// acknowledged, and the orders queued here go down as "order" items.
function standInCloud() {
  const downstream = [];
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = zlib.gunzipSync(raw);
      let batch;
      try { batch = JSON.parse(raw.toString('utf8')); } catch { res.writeHead(400).end(); return; }
      for (const c of batch.changes || []) received.push(c);
      const acked = batch.first_seq - 1 + (batch.changes || []).length;
      const items = downstream.filter((d) => d.cursor > (batch.downstream_cursor || 0));
      const next = items.length ? items[items.length - 1].cursor : batch.downstream_cursor || 0;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ acked_seq: acked, downstream: items, next_cursor: next }));
    });
  });
  return {
    server, received,
    route(order) { downstream.push({ cursor: downstream.length + 1, kind: 'order', body: order }); },
  };
}

// A Y4M video (what Chromium's fake camera plays) of a barcode rendered by the project's
// own generator (shopeasy-vision-gen writes PPM; grey is all a barcode needs).
function cameraVideo(gen, code, dir) {
  const ppm = path.join(dir, 'camera-code.ppm');
  const r = spawnSync(gen, ['code', '--symbology', 'ean-13', '--content', code, '--level', 'clean', '--out', ppm], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`shopeasy-vision-gen: ${r.stderr}`);
  const data = fs.readFileSync(ppm);
  // "P6\n<w> <h>\n255\n" then RGB bytes.
  const header = data.toString('latin1', 0, 64).match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
  if (!header) throw new Error('unexpected PPM header');
  const [w, h] = [Number(header[1]), Number(header[2])];
  const rgb = data.subarray(header[0].length);
  const W = w - (w % 2);
  const H = h - (h % 2);
  const y = Buffer.alloc(W * H);
  for (let row = 0; row < H; row++) {
    for (let col = 0; col < W; col++) {
      const i = (row * w + col) * 3;
      y[row * W + col] = Math.round(0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2]);
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frames = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`, 'latin1')];
  for (let f = 0; f < 10; f++) frames.push(Buffer.from('FRAME\n', 'latin1'), y, chroma);
  const out = path.join(dir, 'camera-code.y4m');
  fs.writeFileSync(out, Buffer.concat(frames));
  return out;
}

export async function handheldTests(h) {
  const { start, stop, freePort, waitFor, sleep, chromium, chromiumPath, browserArgs, artifacts, state, binDir, brokerPort, ean13, figures, which } = h;
  const dir = path.join(state, 'handheld');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const passwords = { picker: 'picker-pass-1', manager: 'manager-pass-1', picker2: 'picker-pass-2' };
  const roles = { picker: 'picker', manager: 'manager', picker2: 'picker' };
  for (const [name, password] of Object.entries(passwords)) {
    const r = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(dir, 'users.db'), 'add', name, roles[name]],
      { input: `${password}\n`, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`shopeasy-edge-users add ${name} failed: ${r.stderr}`);
  }
  const cloud = standInCloud();
  await new Promise((r) => cloud.server.listen(0, '127.0.0.1', r));
  const config = {
    store: { id: 'hh-store', name: 'Handheld test store', lat: 12.97, lon: 77.59, durable: false },
    state_dir: dir,
    http: { port, rate_limit_per_s: 0 },
    mqtt: { port: brokerPort, client_id: 'shopeasy-edge-handheld-test' },
    sync: { enabled: true, url: `http://127.0.0.1:${cloud.server.address().port}`, heartbeat_ms: 200 },
    orders: { auto_accept: true },
    auth: { tokens: [{ name: 'seeder', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }] },
  };
  fs.writeFileSync(path.join(dir, 'edge.json'), JSON.stringify(config, null, 2));
  const startEdge = () => start('handheld-edge', path.join(binDir, 'shopeasy-edge'), ['--config', path.join(dir, 'edge.json')],
    { SHOPEASY_EDGE_SYNC_STORE_SECRET: secret });
  let edge = startEdge();

  const call = async (method, p, body) => {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
    const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body: json, text };
  };
  const ok = async (method, p, body) => {
    const r = await call(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: HTTP ${r.status} ${r.text}`);
    return r.body;
  };
  await waitFor('the handheld edge to answer /health', async () => (await fetch(`${base}/health`)).ok, 20000);

  // Products 1..8, each in its own bin along the walk; product 8 is never ordered (the
  // wrong item). Lots with expiry dates so the pick list names the lot to take (FEFO).
  const P = (i) => ({ sku: `HH-${i}`, ean: ean13(90000 + i), name: ['Toned milk 1 L', 'Brown bread 400 g', 'Basmati rice 1 kg', 'Bath soap 4-pack', 'Green tea 25 bags', 'Curd 400 g', 'Eggs 6', 'Dish soap'][i - 1] });
  const products = [1, 2, 3, 4, 5, 6, 7, 8].map(P);
  const bins = ['A-01', 'A-02', 'A-03', 'B-01', 'B-02', 'C-01', 'C-02', 'D-01'];
  await ok('POST', '/api/bins', { bins: bins.map((code, i) => ({ code, walk_order: (i + 1) * 10 })) });
  const rows = ['sku,name,category,price_cents,barcodes,reorder_point,home_bin'];
  products.forEach((p, i) => rows.push(`${p.sku},${p.name},grocery,${1000 + i * 100},${p.ean},0,${bins[i]}`));
  await ok('POST', '/api/catalog', `${rows.join('\n')}\n`);
  let seeded = 0;
  for (const [i, p] of products.entries()) {
    // Two lots: the later expiry goes in first, FEFO must still name the earlier one.
    await ok('POST', '/api/scans', { scan_id: `seed-${seeded++}`, scanner_id: 'seed', code: p.ean, action: 'receive', qty: 20, bin: bins[i], lot: `L${i}B`, expiry: '2027-06-30' });
    await ok('POST', '/api/scans', { scan_id: `seed-${seeded++}`, scanner_id: 'seed', code: p.ean, action: 'receive', qty: 20, bin: bins[i], lot: `L${i}A`, expiry: '2027-03-31' });
  }
  const bySku = new Map(products.map((p) => [p.sku, p]));

  let orderNo = 0;
  const routeOrder = (lines, minutes = 10) => {
    const now = Date.now();
    const id = `hh-o${++orderNo}`;
    cloud.route({
      order_id: id, customer_id: 'cust-1', store_id: 'hh-store', status: 'routed',
      lines: lines.map(([i, qty]) => ({ sku: P(i).sku, qty, unit_price_cents: 1000 })),
      delivery: { lat: 12.975, lon: 77.6 }, promised_at_ms: now + minutes * 60000, created_at_ms: now, updated_at_ms: now,
      total_cents: 5000, accept_by_ms: now + 60000,
    });
    return id;
  };
  const orderStatus = async (id) => (await call('GET', `/api/orders/${id}`)).body?.status;

  // Two five-unit orders: the first is picked straight through, the second through a
  // network drop. The third waits, to show the queue moves on by itself.
  const first = routeOrder([[5, 1], [1, 2], [3, 1], [2, 1]], 9);
  const second = routeOrder([[4, 2], [6, 1], [7, 1], [2, 1]], 12);
  const third = routeOrder([[1, 1]], 30);
  await waitFor('the routed orders to be accepted', async () => (await orderStatus(third)) === 'accepted', 20000);

  const profile = fs.mkdtempSync(path.join(state, 'profile-handheld-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: browserArgs,
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  await ctx.route('**/*', (route) => {
    const u = new URL(route.request().url());
    return u.hostname === '127.0.0.1' || u.protocol === 'data:' || u.protocol === 'blob:' ? route.continue() : route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => console.log(`handheld page error: ${e.message}`));
  page.on('console', (m) => { if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) console.log(`handheld console ${m.type()}: ${m.text()}`); });
  // A failed test leaves a screenshot of the screen it failed on.
  const test = (name, fn) => h.test(name, async () => {
    try { await fn(); } catch (e) {
      await page.screenshot({ path: path.join(artifacts, `hh-FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) }).catch(() => {});
      throw e;
    }
  });
  let shot = 0;
  const shoot = (name) => page.screenshot({ path: path.join(artifacts, `hh-${String(++shot).padStart(2, '0')}-${name}.png`) });

  // Nothing outside the viewport, no sideways scroll, no text running out of its box, and
  // (with allowVertical false) no vertical scroll either.
  const fits = async (where, { allowVertical = false } = {}, p = page) => {
    const problems = await p.evaluate((vertical) => {
      const vw = window.innerWidth;
      const vh = window.innerHeight;
      const out = [];
      const doc = document.scrollingElement;
      if (doc.scrollWidth > vw) out.push(`the page scrolls sideways (${doc.scrollWidth} > ${vw})`);
      if (!vertical && doc.scrollHeight > vh) out.push(`the page scrolls (${doc.scrollHeight} > ${vh})`);
      for (const e of document.querySelectorAll('body *')) {
        if (e.closest('[hidden]') || ['SCRIPT', 'STYLE', 'LINK', 'TEMPLATE', 'DATALIST', 'OPTION'].includes(e.tagName)) continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        const name = `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ')[0]}` : ''}`;
        if (r.left < -0.5 || r.right > vw + 0.5) out.push(`${name} runs off the side (${Math.round(r.left)}..${Math.round(r.right)})`);
        if (!vertical && r.bottom > vh + 0.5) out.push(`${name} is below the screen (bottom ${Math.round(r.bottom)})`);
        if (e.tagName !== 'INPUT' && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0) out.push(`${name}: text cut off (${e.scrollWidth} > ${e.clientWidth})`);
      }
      return out;
    }, allowVertical);
    if (problems.length) throw new Error(`${where}: ${problems.slice(0, 8).join('; ')}`);
  };

  const hh = (fn) => page.evaluate(fn);
  const pickState = () => page.evaluate(() => window.shopeasyHandheld.pick());
  // Types a code as a keyboard-wedge scanner does (no field focused) and waits until the
  // screen has changed; returns the time from Enter to the changed frame.
  const wedge = async (code, changed) => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const before = await page.evaluate(() => [document.getElementById('hh-screen').textContent, document.getElementById('hh-msg').textContent]);
    await page.keyboard.type(code);
    const t0 = Date.now();
    await page.keyboard.press('Enter');
    await page.waitForFunction(changed || ((b) => document.getElementById('hh-screen').textContent !== b[0] || document.getElementById('hh-msg').textContent !== b[1]),
      before, { timeout: 3000, polling: 'raf' });
    return Date.now() - t0;
  };
  const shotOnce = new Set();

  // Picks the current order unit by unit, scanning what the screen asks for.
  const pickOrder = async (id, { onUnit = async () => {}, latencies = [] } = {}) => {
    for (let unit = 0; ; unit++) {
      const s = await pickState();
      if (s.order !== id) throw new Error(`the screen shows order ${s.order}, expected ${id}`);
      if (s.phase === 'pack') return;
      if (s.phase !== 'item') throw new Error(`phase ${s.phase}`);
      await onUnit(unit, s);
      const p = bySku.get(s.step.sku);
      if (await page.textContent('#hh-bin') !== s.step.bin) throw new Error('the bin shown is not the step\'s');
      const ms = await wedge(p.ean);
      latencies.push(ms);
      const msg = await page.textContent('#hh-msg');
      if (!msg.startsWith('✓')) throw new Error(`scan of ${p.sku} answered: ${msg}`);
    }
  };

  try {
    await test('handheld: a picker signs in at 390x844 and sees the next order, one item at a time in walk order', async () => {
      await page.goto(base + '/');
      await fits('sign-in', {});
      await shoot('sign-in');
      await page.fill('#login-user', 'picker');
      await page.fill('#login-password', passwords.picker);
      await page.tap('#login-submit');
      await page.waitForSelector('#hh-screen[data-phase="item"]', { timeout: 10000 });
      // The handheld started in full (an exception on the way leaves the page not ready).
      await page.waitForSelector('body[data-ready="true"]', { timeout: 5000 });
      const s = await pickState();
      if (s.order !== first) throw new Error(`first order shown is ${s.order}`);
      // Walk order: the first bin holding anything of the order, with the FEFO lot.
      if (s.step.bin !== 'A-01' || s.step.lot !== 'L0A' || s.step.expiry !== '2027-03-31') throw new Error(`first step ${JSON.stringify(s.step)}`);
      const timer = await page.textContent('#hh-timer');
      if (!/^\d+:\d\d$/.test(timer)) throw new Error(`promise timer says ${timer}`);
      await fits('pick item');
      await shoot('pick-item');
    });

    await test('handheld: a five-item order is picked with one wedge scan per unit, a wrong item refused naming the expected one, and packed', async () => {
      const latencies = [];
      await pickOrder(first, {
        latencies,
        onUnit: async (unit, s) => {
          if (unit !== 2) return;
          const expected = bySku.get(s.step.sku);
          await wedge(P(8).ean, () => document.getElementById('hh-msg').classList.contains('hh-bad'));
          const msg = await page.textContent('#hh-msg');
          if (!msg.includes('Wrong item') || !msg.includes(expected.name) || !msg.includes(s.step.bin)) throw new Error(`refusal says: ${msg}`);
          const after = await pickState();
          if (after.left !== s.left || after.step.sku !== s.step.sku) throw new Error('a refused scan moved the pick on');
          await fits('wrong item');
          await shoot('pick-wrong-item');
          // The page reports the refused scan to the edge, which counts it with its own...
          const wrongScans = async () => {
            const m = (await call('GET', '/metrics')).text.match(/edge_order_pick_scans_total\{result="wrong_item"\} (\d+)/);
            return m ? Number(m[1]) : 0;
          };
          await waitFor('the edge to count the wrong scan', async () => (await wrongScans()) === 1, 5000);
          // ...and refuses the same scan the same way.
          const r = await call('POST', `/api/orders/${first}/pick`, { code: P(8).ean });
          if (r.status < 400 || !r.body.error.message.includes('expected')) throw new Error(`edge: ${r.status} ${r.text}`);
        },
      });
      // In the page: from the Enter key event to the frame after the one that drew the
      // new screen. From here: Enter sent by playwright to the changed screen seen by a
      // per-frame poll, round trips to the browser included.
      const inPage = await hh(() => window.shopeasyHandheld.metrics.scanToScreenMs.map((x) => Math.round(x)));
      figures.handheld_scan_to_screen_ms = inPage;
      figures.handheld_scan_to_screen_seen_by_test_ms = latencies;
      console.log(`  scan -> screen updated, in page (Enter event to painted frame): ${inPage.join(', ')} ms; seen from the test: ${latencies.join(', ')} ms`);
      if (latencies.length !== 5) throw new Error(`${latencies.length} scans for five units`);
      if (Math.max(...inPage) >= 100) throw new Error(`slowest screen update ${Math.max(...inPage)} ms`);
      const fb = await hh(() => window.shopeasyHandheld.scanner);
      if (fb.ok < 5 || fb.error < 1) throw new Error(`feedback ${JSON.stringify(fb)}`);
      await fits('pack');
      await shoot('pack');
      await page.tap('#hh-bags-plus');
      if ((await page.textContent('#hh-bags output')).trim() !== String(2)) throw new Error('bag count did not go up');
      await page.tap('#hh-pack-done');
      await waitFor(`${first} to be packed at the edge`, async () => ['packed', 'out_for_delivery'].includes(await orderStatus(first)), 10000);
      await page.waitForFunction((id) => window.shopeasyHandheld.pick().order === id && window.shopeasyHandheld.pick().phase === 'item', second, { timeout: 5000 });
      await fits('next order');
      await shoot('next-order');
      const o = (await call('GET', `/api/orders/${first}`)).body;
      const picked = o.lines.reduce((n, l) => n + (l.picked ?? 0), 0);
      if (picked !== 5) throw new Error(`the edge has ${picked} units picked`);
    });

    await test('handheld: the edge stopped for 10 s during picking loses and doubles nothing', async () => {
      const skus = ['HH-4', 'HH-6', 'HH-7', 'HH-2'];
      const onHand = async () => Object.fromEntries(await Promise.all(skus.map(async (s) => [s, (await call('GET', `/api/stock/${s}`)).body.on_hand])));
      const before = await onHand();
      let stoppedAt = 0;
      await pickOrder(second, {
        onUnit: async (unit) => {
          if (unit !== 2) return;
          await stop(edge);
          stoppedAt = Date.now();
        },
      });
      await waitFor('the screen to say what is waiting', async () => /Offline: \d+ waiting/.test(await page.textContent('#hh-queue')), 5000);
      await fits('offline pack');
      await shoot('offline-waiting');
      await page.tap('#hh-pack-done');
      // Picks and the pack (the claim of the next order may be queued behind them too).
      const waiting = (await hh(() => window.shopeasyHandheld.outbox())).labels.filter((l) => !l.startsWith('claim ')).length;
      if (waiting !== 4) throw new Error(`${waiting} actions waiting, expected 3 picks and the pack`);
      // The next order was read ahead: picking goes on while the edge is away.
      await page.waitForFunction((id) => window.shopeasyHandheld.pick().order === id && window.shopeasyHandheld.pick().phase === 'item', third, { timeout: 5000 });
      await fits('offline after pack', {});
      await shoot('offline-next');
      await sleep(Math.max(0, 10000 - (Date.now() - stoppedAt)));
      edge = startEdge();
      await waitFor('the queue to drain', async () => (await hh(() => window.shopeasyHandheld.outbox())).waiting === 0, 20000);
      await waitFor(`${second} to be packed at the edge`, async () => ['packed', 'out_for_delivery'].includes(await orderStatus(second)), 10000);
      const o = (await call('GET', `/api/orders/${second}`)).body;
      for (const l of o.lines) if ((l.picked ?? 0) !== l.qty) throw new Error(`line ${JSON.stringify(l)}`);
      const after = await onHand();
      const want = { 'HH-4': 2, 'HH-6': 1, 'HH-7': 1, 'HH-2': 1 };
      for (const s of skus) if (before[s] - after[s] !== want[s]) throw new Error(`${s} on hand ${before[s]} -> ${after[s]}`);
      const stats = await hh(() => window.shopeasyHandheld.outboxStats);
      figures.handheld_offline = { stopped_s: 10, retries: stats.retried, sent: stats.sent, refused: stats.refused };
      if (stats.refused) throw new Error(`${stats.refused} actions refused after the drop`);
      await page.waitForFunction((id) => window.shopeasyHandheld.pick().order === id, third, { timeout: 10000 });
      await fits('after reconnect');
      await shoot('after-reconnect');
    });

    await test('handheld: short pick drops a line in two taps', async () => {
      await page.waitForSelector('#hh-screen[data-phase="item"]');
      await page.tap('#hh-short');
      await fits('short choices');
      await shoot('short');
      await page.tap('#hh-short-drop');
      await page.waitForSelector('#hh-screen[data-phase="pack"]', { timeout: 3000 });
      await waitFor('the line to be dropped at the edge', async () => (await hh(() => window.shopeasyHandheld.outbox())).waiting === 0, 5000);
      // Dropping the only line cancels the order.
      await waitFor(`${third} to be cancelled`, async () => (await orderStatus(third)) === 'cancelled', 5000);
    });

    const screen = async (name) => {
      if (await page.isVisible('#hh-back')) await page.tap('#hh-back');
      await page.tap(`#hh-go-${name}`);
      await page.waitForSelector(`#hh-screen[data-screen="${name}"]`);
    };
    const setField = async (id, value) => {
      await page.tap(id);
      await page.fill(id, value);
      await page.press(id, 'Enter');
    };
    const lastLog = (name) => page.textContent(`#hh-${name}-log li:first-child`);

    await test('handheld: receive reads lot and expiry from a GS1-128 scan', async () => {
      await page.tap('#hh-back');
      await page.waitForSelector('#hh-go-pick');
      await fits('menu');
      await shoot('menu');
      await screen('receive');
      // A picker receives freely: purchase orders are for managers.
      if (!(await page.isVisible('#hh-po-manager')) || await page.isVisible('#hh-receive-free')) throw new Error('a picker is offered purchase orders');
      await setField('#hh-receive-bin', 'D-01');
      const p = P(8);
      const code = `(01)0${p.ean}(17)271130(10)GS1LOT7`;
      await wedge(code);
      await page.waitForFunction(() => document.querySelector('#hh-receive-log li.hh-done'), null, { timeout: 5000 });
      const text = await lastLog('receive');
      if (!text.includes('GS1LOT7') || !text.includes('2027-11-30') || !text.includes(p.name)) throw new Error(`receive log: ${text}`);
      // The same element string as a scanner sends it raw: AIM identifier, FNC1 as GS.
      const raw = await page.evaluate(async (c) => (await import('/ui/scanner.js')).parseGs1(c), `]C101${'0' + p.ean}10LOT\u001d17270300`);
      if (raw.lot !== 'LOT' || raw.expiry !== '2027-03-31' || raw.gtin !== `0${p.ean}`) throw new Error(`raw GS1 read as ${JSON.stringify(raw)}`);
      const item = (await call('GET', `/api/stock/${p.sku}`)).body;
      const lot = JSON.stringify(item).includes('GS1LOT7');
      if (!lot) throw new Error(`the edge has no lot GS1LOT7: ${JSON.stringify(item.stock)}`);
      await fits('receive', { allowVertical: true });
      await shoot('receive');
    });

    await test('handheld: move between bins and count a bin, each its own screen', async () => {
      await screen('move');
      await setField('#hh-move-bin', 'A-01');
      await setField('#hh-move-to', 'A-02');
      await wedge(P(1).ean);
      await page.waitForFunction(() => document.querySelector('#hh-move-log li.hh-done'), null, { timeout: 5000 });
      await fits('move', { allowVertical: true });
      await shoot('move');
      const moved = (await call('GET', `/api/stock/${P(1).sku}`)).body;
      if (!JSON.stringify(moved).includes('A-02')) throw new Error(`nothing in A-02: ${JSON.stringify(moved.stock)}`);
      // A picker counts; a manager opens the count.
      const count = await ok('POST', '/api/counts', { bin: 'C-02' });
      await screen('count');
      await setField('#hh-count-id', String(count.count_id));
      await setField('#hh-count-bin', 'C-02');
      await wedge(P(7).ean);
      await page.waitForFunction(() => document.querySelector('#hh-count-log li.hh-done'), null, { timeout: 5000 });
      await fits('count', { allowVertical: true });
      await shoot('count');
      const report = await ok('GET', `/api/counts/${count.count_id}`);
      if (!JSON.stringify(report).includes('"counted":1')) throw new Error(`count report ${JSON.stringify(report)}`);
    });

    await test('handheld: a manager receives a purchase order by scans; a product not on it and an over-receipt are refused on the spot', async () => {
      // The supplier's order: two lines, sent (receiving needs it sent).
      await ok('POST', '/api/suppliers', { id: 'hh-sup', name: 'Handheld test supplier', lead_time_days: 2 });
      const created = await ok('POST', '/api/purchase-orders', { request_id: 'hh-po-1', supplier_id: 'hh-sup', lines: [{ sku: P(3).sku, qty: 2 }, { sku: P(5).sku, qty: 3 }] });
      const poId = created.po_id;
      await ok('POST', `/api/purchase-orders/${encodeURIComponent(poId)}/send`);
      const onHand = async (sku) => (await call('GET', `/api/stock/${sku}`)).body.on_hand;
      const before = { three: await onHand(P(3).sku), five: await onHand(P(5).sku) };
      const receipts = [];
      const seen = (req) => { if (req.method() === 'POST' && req.url().endsWith('/receive')) receipts.push(req.postDataJSON()); };
      page.on('request', seen);
      try {
        // Purchase orders are the managers' (the edge's rule): the picker signs out.
        await page.tap('#hh-logout');
        await page.waitForSelector('#login-user', { state: 'visible', timeout: 10000 });
        await page.fill('#login-user', 'manager');
        await page.fill('#login-password', passwords.manager);
        await page.tap('#login-submit');
        await page.waitForSelector('#hh-go-receive', { timeout: 10000 });
        await page.tap('#hh-go-receive');
        const choice = `#hh-po-list [data-po="${poId}"]`;
        await page.waitForSelector(choice, { timeout: 5000 });
        await fits('purchase order choice', { allowVertical: true });
        await shoot('po-choice');
        await page.tap(choice);
        await page.waitForSelector('#hh-screen[data-phase="po"] #hh-po-lines');
        await waitFor('the lines to show product names', async () => (await page.textContent('#hh-po-lines')).includes(P(5).name), 5000);
        const line = (sku) => page.evaluate((s) => ({ ...document.querySelector(`#hh-po-lines li[data-sku="${s}"]`).dataset }), sku);
        const first = await line(P(3).sku);
        if (first.ordered !== '2' || first.received !== '0' || first.remaining !== '2') throw new Error(`line shown as ${JSON.stringify(first)}`);
        await fits('purchase order', { allowVertical: true });
        await shoot('po-open');

        // A GS1-128 with lot and expiry, twice: the first line in full.
        const gs1 = `(01)0${P(3).ean}(17)280131(10)POLOT1`;
        for (let i = 1; i <= 2; i++) {
          await wedge(gs1);
          const msg = await page.textContent('#hh-msg');
          if (!msg.startsWith('✓') || !msg.includes(P(3).name)) throw new Error(`scan ${i} answered: ${msg}`);
        }
        await waitFor('the first line received at the edge', async () => (await line(P(3).sku)).received === '2', 5000);
        // A third is more than was ordered.
        await wedge(gs1, () => document.getElementById('hh-msg').classList.contains('hh-bad'));
        const over = await page.textContent('#hh-msg');
        if (!over.includes('Over receipt') || !over.includes(P(3).name)) throw new Error(`over-receipt refusal says: ${over}`);
        // A product the order does not have, refused and named.
        await wedge(P(8).ean, () => document.getElementById('hh-msg').classList.contains('hh-bad') && document.getElementById('hh-msg').textContent.includes('Not on'));
        await waitFor('the refusal to name the product', async () => (await page.textContent('#hh-msg')).includes(P(8).name), 5000);
        if (!(await page.textContent('#hh-msg')).includes(poId)) throw new Error('the refusal does not name the order');
        await fits('purchase order wrong item', { allowVertical: true });
        await shoot('po-wrong-item');

        // The second line: three units in one scan, which completes the order, scanned
        // while the store box is down: it waits in the queue and goes when the box is back.
        await page.tap('#hh-po-qty-plus');
        await page.tap('#hh-po-qty-plus');
        if ((await page.textContent('#hh-po-qty output')).trim() !== '3') throw new Error('units per scan did not go to 3');
        await stop(edge);
        await wedge(P(5).ean);
        const done = await page.textContent('#hh-msg');
        if (!done.includes('every line')) throw new Error(`last scan answered: ${done}`);
        await waitFor('the receipt to wait in the queue', async () => /Offline: 1 waiting/.test(await page.textContent('#hh-queue')), 5000);
        const queued = await line(P(5).sku);
        if (queued.received !== '0' || queued.remaining !== '0') throw new Error(`queued line shown as ${JSON.stringify(queued)}`);
        await fits('purchase order offline', { allowVertical: true });
        await shoot('po-offline');
        edge = startEdge();
        await waitFor('the queue to drain', async () => (await hh(() => window.shopeasyHandheld.outbox())).waiting === 0, 20000);
        await page.waitForSelector('#hh-po-done', { timeout: 5000 });
        const received = await page.textContent('#hh-msg');
        if (!received.includes(`Every line of ${poId} is received`)) throw new Error(`once sent the screen says: ${received}`);
        await fits('purchase order received', { allowVertical: true });
        await shoot('po-received');

        // The edge: the order received line by line, the stock in the home bins with the lot.
        const edgePo = await ok('GET', `/api/purchase-orders/${encodeURIComponent(poId)}`);
        if (edgePo.status !== 'received') throw new Error(`the edge has ${poId} ${edgePo.status}`);
        for (const l of edgePo.lines) if (l.received !== l.qty) throw new Error(`line ${JSON.stringify(l)}`);
        const three = (await call('GET', `/api/stock/${P(3).sku}`)).body;
        if (three.on_hand !== before.three + 2) throw new Error(`${P(3).sku} on hand ${before.three} -> ${three.on_hand}`);
        if (!three.stock.some((s) => s.bin === 'A-03' && s.lot === 'POLOT1' && s.expiry === '2028-01-31' && s.on_hand === 2)) throw new Error(`no lot POLOT1 in A-03: ${JSON.stringify(three.stock)}`);
        if (await onHand(P(5).sku) !== before.five + 3) throw new Error(`${P(5).sku} did not gain 3`);
        const stats = await hh(() => window.shopeasyHandheld.outboxStats);
        if (stats.refused !== 0) throw new Error(`${stats.refused} receipts refused by the edge (the device should have refused them)`);
        // Three receipts, each with its own id (the last one tried again while the box was
        // down); the first sent again changes nothing.
        if (new Set(receipts.map((r) => r.receipt_id)).size !== 3) throw new Error(`receipts sent: ${JSON.stringify(receipts)}`);
        if (receipts[0].lot !== 'POLOT1' || receipts[0].expiry !== '2028-01-31') throw new Error(`first receipt ${JSON.stringify(receipts[0])}`);
        const again = await call('POST', `/api/purchase-orders/${encodeURIComponent(poId)}/receive`, receipts[0]);
        if (again.status !== 200 || !again.body.duplicate) throw new Error(`resent receipt: ${again.status} ${again.text}`);
        if (await onHand(P(3).sku) !== before.three + 2) throw new Error('a resent receipt moved stock');
        figures.handheld_po_receive = { receipts: 3, requests: receipts.length, refused_on_device: 2 };
      } finally {
        page.off('request', seen);
      }
    });

    await test('handheld: Chromium\'s fake camera shows a barcode and the edge\'s decoder reads it', async () => {
      const gen = path.join(binDir, 'shopeasy-vision-gen');
      if (!fs.existsSync(gen)) throw new Error(`${gen} is not built (ninja shopeasy-vision-gen)`);
      const product = P(1);
      const video = cameraVideo(gen, ean13(90001), dir);
      const cprofile = fs.mkdtempSync(path.join(state, 'profile-camera-'));
      const cctx = await chromium.launchPersistentContext(cprofile, {
        executablePath: chromiumPath, headless: true,
        args: [...browserArgs, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
        viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      });
      try {
        await cctx.grantPermissions(['camera'], { origin: base });
        const cp = cctx.pages()[0] || await cctx.newPage();
        cp.on('pageerror', (e) => console.log(`camera page error: ${e.message}`));
        await cp.goto(base + '/');
        await cp.fill('#login-user', 'manager');
        await cp.fill('#login-password', passwords.manager);
        await cp.tap('#login-submit');
        await cp.waitForSelector('#hh-go-receive', { timeout: 10000 });
        const before = (await call('GET', `/api/stock/${product.sku}`)).body.on_hand;
        await cp.tap('#hh-go-receive');
        // A manager chooses between a purchase order and free receiving.
        await cp.tap('#hh-receive-free');
        await cp.fill('#hh-receive-bin', 'A-01');
        await cp.press('#hh-receive-bin', 'Enter');
        await cp.tap('#hh-camera');
        await cp.waitForFunction(() => document.querySelector('#hh-receive-log li.hh-done'), null, { timeout: 20000 });
        await fits('camera', { allowVertical: true }, cp);
        await cp.screenshot({ path: path.join(artifacts, `hh-${String(++shot).padStart(2, '0')}-camera.png`) });
        await cp.tap('#hh-camera');
        const text = await cp.textContent('#hh-receive-log li:first-child');
        if (!text.includes(product.name)) throw new Error(`camera receive log: ${text}`);
        const cam = await cp.evaluate(() => window.shopeasyHandheld.scanner);
        const after = (await call('GET', `/api/stock/${product.sku}`)).body.on_hand;
        figures.handheld_camera = { frames_sent: cam.cameraFrames, codes: cam.cameraCodes };
        if (after !== before + cam.cameraCodes || cam.cameraCodes < 1) throw new Error(`on hand ${before} -> ${after} for ${cam.cameraCodes} codes read`);
        await cp.screenshot({ path: path.join(artifacts, `hh-${String(++shot).padStart(2, '0')}-camera-received.png`) });
      } finally {
        await cctx.close().catch(() => {});
      }
    });

    await test('handheld: two pickers open Pick at the same time and get different orders; the bag count reaches the edge', async () => {
      const a = routeOrder([[1, 1]], 5);
      const b = routeOrder([[2, 1]], 6);
      await waitFor('both new orders to be accepted', async () => (await orderStatus(a)) === 'accepted' && (await orderStatus(b)) === 'accepted', 20000);
      const open = async (user) => {
        const c = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(state, `profile-${user}-`)), {
          executablePath: chromiumPath, headless: true, args: browserArgs,
          viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
        });
        const p = c.pages()[0] || await c.newPage();
        p.on('pageerror', (e) => console.log(`${user} page error: ${e.message}`));
        await p.goto(base + '/');
        await p.fill('#login-user', user);
        await p.fill('#login-password', passwords[user]);
        return { user, c, p };
      };
      const pickers = await Promise.all([open('picker'), open('picker2')]);
      try {
        // Both sign in at once; a picker lands on Pick, which claims the next order.
        await Promise.all(pickers.map(({ p }) => p.tap('#login-submit')));
        await Promise.all(pickers.map(({ p }) => p.waitForSelector('#hh-screen[data-phase="item"]', { timeout: 10000 })));
        const held = await Promise.all(pickers.map(({ p }) => p.evaluate(() => window.shopeasyHandheld.pick())));
        const orders = held.map((x) => x.order);
        if (orders[0] === orders[1]) throw new Error(`both pickers were given ${orders[0]}`);
        if (!orders.includes(a) || !orders.includes(b)) throw new Error(`pickers were given ${orders.join(', ')}, expected ${a} and ${b}`);
        for (const [i, { user, p }] of pickers.entries()) {
          if (!held[i].claimed) throw new Error(`${user}'s claim on ${orders[i]} is not confirmed`);
          const detail = (await call('GET', `/api/orders/${orders[i]}`)).body;
          if (detail.picker !== user) throw new Error(`the edge says ${orders[i]} is held by ${detail.picker}, expected ${user}`);
          const shown = await p.textContent('#hh-holder');
          if (!shown.includes(user)) throw new Error(`${user}'s screen says: ${shown}`);
          await fits(`pick as ${user}`, {}, p);
        }
        await pickers[1].p.screenshot({ path: path.join(artifacts, `hh-${String(++shot).padStart(2, '0')}-second-picker.png`) });

        // The second picker picks their order and packs it in 3 bags.
        const { p } = pickers[1];
        const sku = held[1].step.sku;
        await p.evaluate(() => document.activeElement && document.activeElement.blur());
        await p.keyboard.type(bySku.get(sku).ean);
        await p.keyboard.press('Enter');
        await p.waitForSelector('#hh-screen[data-phase="pack"]', { timeout: 5000 });
        for (let n = Number((await p.textContent('#hh-bags output')).trim()); n < 3; n++) await p.tap('#hh-bags-plus');
        if ((await p.textContent('#hh-bags output')).trim() !== '3') throw new Error('the bag count is not 3');
        await p.tap('#hh-pack-done');
        const packed = await waitFor(`${orders[1]} packed with its bags at the edge`, async () => {
          const o = (await call('GET', `/api/orders/${orders[1]}`)).body;
          return ['packed', 'out_for_delivery'].includes(o.status) && o;
        }, 10000);
        if (packed.bags !== 3) throw new Error(`the edge has ${packed.bags} bags for ${orders[1]}`);

        // The first picker leaves the pick screen: the order is given back.
        await pickers[0].p.tap('#hh-back');
        // ...and the second picker, with nothing else left, hears the claim given back
        // (an order.claim event) and takes it at once.
        await p.waitForFunction((id) => window.shopeasyHandheld.pick().order === id, orders[0], { timeout: 15000 });
        await waitFor(`${orders[0]} to be held by picker2`, async () => (await call('GET', `/api/orders/${orders[0]}`)).body.picker === 'picker2', 5000);
      } finally {
        await Promise.all(pickers.map(({ c }) => c.close().catch(() => {})));
      }
    });

    await test('handheld: a paired MQTT scanner drives the pick screen, a redelivered read counted once', async () => {
      const c = routeOrder([[3, 2]], 8);
      await waitFor(`${c} to be accepted`, async () => (await orderStatus(c)) === 'accepted', 20000);
      const ctx2 = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(state, 'profile-ring-')), {
        executablePath: chromiumPath, headless: true, args: browserArgs,
        viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
      });
      try {
        const p = ctx2.pages()[0] || await ctx2.newPage();
        p.on('pageerror', (e) => console.log(`ring page error: ${e.message}`));
        await p.goto(base + '/#hh-menu');
        await p.fill('#login-user', 'picker');
        await p.fill('#login-password', passwords.picker);
        await p.tap('#login-submit');
        await p.waitForSelector('#hh-pair-id', { timeout: 10000 });
        await p.fill('#hh-pair-id', 'ring-1');
        await p.tap('#hh-pair-save');
        await p.waitForFunction(() => window.shopeasyHandheld.paired() === 'ring-1', null, { timeout: 5000 });
        await fits('paired scanner', {}, p);
        await p.screenshot({ path: path.join(artifacts, `hh-${String(++shot).padStart(2, '0')}-paired-scanner.png`) });
        await p.tap('#hh-go-pick');
        await p.waitForFunction((id) => window.shopeasyHandheld.pick().order === id && window.shopeasyHandheld.pick().phase === 'item', c, { timeout: 10000 });
        const ring = (scanId) => {
          const payload = JSON.stringify({ scan_id: scanId, scanner_id: 'ring-1', code: P(3).ean, action: 'lookup' });
          const pub = spawnSync(which('mosquitto_pub', '/usr/bin/mosquitto_pub'), ['-h', '127.0.0.1', '-p', String(brokerPort), '-q', '1',
            '-t', 'scanners/ring-1/scan', '-m', payload], { encoding: 'utf8' });
          if (pub.status !== 0) throw new Error(`mosquitto_pub: ${pub.stderr}`);
        };
        // The first read, then the same read again (a QoS 1 redelivery): one unit.
        ring('ring-a');
        await p.waitForFunction(() => window.shopeasyHandheld.pick().left === 1, null, { timeout: 5000 });
        ring('ring-a');
        ring('ring-b');
        await p.waitForSelector('#hh-screen[data-phase="pack"]', { timeout: 5000 });
        const o = (await call('GET', `/api/orders/${c}`)).body;
        const picked = o.lines.reduce((n, l) => n + (l.picked ?? 0), 0);
        if (picked !== 2) throw new Error(`the edge has ${picked} units picked for two reads`);
        if (o.picker !== 'picker') throw new Error(`${c} is held by ${o.picker}`);
      } finally {
        await ctx2.close().catch(() => {});
      }
    });
  } finally {
    await ctx.close().catch(() => {});
    await stop(edge);
    cloud.server.close();
    void which;
  }
}
