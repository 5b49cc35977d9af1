// Browser tests of the command center's planning panel on a store box of its own: four
// weeks of history (orders with their pick and delivery times, and one product's sales)
// are written into the edge's database while it is stopped, since the daemon reads the
// wall clock and a plan needs weeks before today. Then a manager reads the peak-hour
// heat map with the staff each hour needs, a product's sales against its forecast, and
// approves and sends the reorder list's purchase order; a viewer sees the plans but not
// the reorder list.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

// SQL for `days` days before today (UTC): each day one order at 10:05 and five from
// 18:05, each picked in 4 minutes and delivered 8 minutes after leaving; the product
// PL-MILK sells 4 units at 10:00 and 16 at 18:00.
function historySql(days) {
  const today = Math.floor(Date.now() / 86400000) * 86400000;
  const out = ['BEGIN;'];
  let n = 0;
  for (let d = days; d >= 1; d--) {
    const day = today - d * 86400000;
    const times = [day + 10 * 3600000 + 300000];
    for (let k = 0; k < 5; k++) times.push(day + 18 * 3600000 + 300000 + k * 60000);
    for (const t of times) {
      const id = `hist-${++n}`;
      out.push(`INSERT INTO orders (order_id, customer_id, status, lat, lon, promised_at_ms, total_cents, received_at_ms, updated_at_ms, body) VALUES ('${id}', 'c', 'delivered', 12.97, 77.59, ${t + 600000}, 100, ${t}, ${t + 900000}, '{}');`);
      const steps = [['routed', t], ['picking', t + 30000], ['packed', t + 270000], ['out_for_delivery', t + 300000], ['delivered', t + 780000]];
      for (const [s, at] of steps) out.push(`INSERT INTO order_history (order_id, status, at_ms, actor) VALUES ('${id}', '${s}', ${at}, 'history');`);
    }
    for (const [hour, units] of [[10, 4], [18, 16]]) {
      out.push(`INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reason, actor, source, on_hand_after) VALUES (${day + hour * 3600000}, 'PL-MILK', 'A-01', 0, -${units}, 'pick', 'history', 'test', 5);`);
    }
  }
  out.push('COMMIT;');
  return out.join('\n');
}

export async function planningTests(h) {
  const { test, start, stop, freePort, waitFor, chromium, chromiumPath, browserArgs, artifacts, state, binDir, ean13, figures, which } = h;
  const dir = path.join(state, 'planning');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('hex');
  const passwords = { manager: 'manager-pass-1', viewer: 'viewer-pass-1' };
  for (const [name, password] of Object.entries(passwords)) {
    const r = spawnSync(path.join(binDir, 'shopeasy-edge-users'), ['--db', path.join(dir, 'users.db'), 'add', name, name],
      { input: `${password}\n`, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`shopeasy-edge-users add ${name} failed: ${r.stderr}`);
  }
  const config = {
    store: { id: 'plan-store', name: 'Planning test store', lat: 12.97, lon: 77.59, durable: false },
    state_dir: dir,
    http: { port, rate_limit_per_s: 0 },
    mqtt: { enabled: false },
    forecast: { history_days: 28 },
    auth: { tokens: [{ name: 'seeder', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }] },
  };
  fs.writeFileSync(path.join(dir, 'edge.json'), JSON.stringify(config, null, 2));
  const startEdge = () => start('planning-edge', path.join(binDir, 'shopeasy-edge'), ['--config', path.join(dir, 'edge.json')]);
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

  let edge = startEdge();
  await waitFor('the planning edge to answer /health', async () => (await fetch(`${base}/health`)).ok, 20000);
  await ok('POST', '/api/bins', { bins: [{ code: 'A-01', walk_order: 10 }] });
  await ok('POST', '/api/catalog', `sku,name,category,price_cents,barcodes,reorder_point,home_bin\nPL-MILK,Toned milk 1 L,dairy,6500,${ean13(70001)},0,A-01\nPL-RICE,Rice 1 kg,staples,9000,${ean13(70002)},0,A-01\n`);
  await ok('POST', '/api/scans', { scan_id: 'plan-seed-1', scanner_id: 'seed', code: ean13(70001), action: 'receive', qty: 5, bin: 'A-01' });
  await ok('POST', '/api/suppliers', { id: 'pl-dairy', name: 'Dairy co-op', lead_time_days: 2 });
  await ok('PUT', '/api/suppliers/pl-dairy/skus/PL-MILK', { service_level: 0.95 });
  // The history goes in with the edge stopped, then the edge reads it as its own.
  await stop(edge);
  const seeded = spawnSync(which('sqlite3', '/usr/bin/sqlite3'), [path.join(dir, 'edge.db')], { input: historySql(28), encoding: 'utf8' });
  if (seeded.status !== 0) throw new Error(`seeding the history failed: ${seeded.stderr}`);
  edge = startEdge();
  await waitFor('the planning edge to answer /health again', async () => (await fetch(`${base}/health`)).ok, 20000);

  const open = async (label, user, viewport = { width: 1280, height: 900 }) => {
    const profile = fs.mkdtempSync(path.join(state, `profile-planning-${label}-`));
    const ctx = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, headless: true, args: browserArgs, viewport });
    await ctx.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => console.log(`page error (planning ${label}): ${e.message}`));
    await page.goto(base + '/');
    await page.fill('#login-user', user);
    await page.fill('#login-password', passwords[user]);
    await page.click('#login-submit');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
    return { ctx, page };
  };
  const shoot = (page, name) => page.screenshot({ path: path.join(artifacts, `planning-${name}.png`), fullPage: true });

  const { ctx, page } = await open('manager', 'manager');
  try {
    await test('planning: a manager sees the week\'s peak hours with the staff each needs, from the store\'s own times', async () => {
      const t0 = Date.now();
      await page.click('#tabs button[data-tab="planning"]');
      await page.locator('#peak-map td.heat').first().waitFor({ timeout: 15000 });
      figures.planning_peak_map_ms = Date.now() - t0;
      const days = await page.locator('#peak-map tbody tr').count();
      if (days < 7 || days > 8) throw new Error(`heat map has ${days} day rows`);
      // Every day's busiest hour is 18:00 (a last day cut off before 18:00 peaks earlier),
      // with more runners than a quiet hour.
      const peaks = await page.locator('#peak-list li').allTextContents();
      if (peaks.filter((p) => p.includes('18:00')).length < 7) throw new Error(`busiest hours: ${peaks.join(' | ')}`);
      const cell = page.locator('#peak-map td.peak').first();
      const runners = Number(await cell.getAttribute('data-runners'));
      const quiet = Number(await page.locator('#peak-map tbody tr').first().locator('td').nth(3).getAttribute('data-runners'));
      if (!(runners >= 2 && runners > quiet)) throw new Error(`runners at the peak ${runners}, at 03:00 ${quiet}`);
      // Four minutes a pick (15 an hour), eight out and eight back (3.75 an hour).
      const rates = await page.textContent('#peak-rates');
      if (!rates.includes('15 orders an hour (measured') || !rates.includes('3.75 deliveries an hour (measured')) throw new Error(`rates: ${rates}`);
      await shoot(page, 'peak-hours');
    });

    await test('planning: one product\'s sales against its forecast, with the band, from the keyboard', async () => {
      await page.focus('#forecast-sku');
      await page.keyboard.type('PL-MILK');
      await page.keyboard.press('Enter');
      await page.locator('#forecast-chart').waitFor({ timeout: 10000 });
      const bars = await page.locator('#forecast-chart rect.actual').count();
      if (bars < 10) throw new Error(`only ${bars} hours of sales drawn`);
      if (await page.locator('#forecast-band').count() !== 1) throw new Error('no forecast band');
      const summary = await page.textContent('#forecast-summary');
      // 20 a day: about 20 expected in the next 24 hours.
      const expected = Number(/about ([\d.]+) expected/.exec(summary)?.[1]);
      if (!(expected > 14 && expected < 26)) throw new Error(`summary: ${summary}`);
      await page.fill('#forecast-sku', 'NOPE-1');
      await page.press('#forecast-sku', 'Enter');
      await page.locator('#forecast-body .error').waitFor();
      if (!(await page.textContent('#forecast-body')).includes('No product with SKU NOPE-1')) throw new Error('unknown SKU not named');
      await page.fill('#forecast-sku', 'PL-MILK');
      await page.press('#forecast-sku', 'Enter');
      await page.locator('#forecast-chart').waitFor();
      await shoot(page, 'forecast');
    });

    await test('planning: the reorder list\'s order is approved in one click and sent', async () => {
      const group = page.locator('#reorder-groups section.supplier[data-supplier="pl-dairy"]');
      await group.waitFor({ timeout: 30000 });
      const qty = Number(await group.locator('tr[data-sku="PL-MILK"] td.num').first().textContent());
      if (!(qty > 0)) throw new Error(`proposed ${qty}`);
      await group.locator('button.approve').click();
      const draft = page.locator('#reorder-drafts li');
      await draft.first().waitFor({ timeout: 10000 });
      const poId = await draft.first().getAttribute('data-po');
      const po = await ok('GET', `/api/purchase-orders/${poId}`);
      if (po.status !== 'draft' || po.lines[0].sku !== 'PL-MILK' || po.lines[0].qty !== qty || po.created_by !== 'manager') {
        throw new Error(`drafted ${JSON.stringify(po)}`);
      }
      // Approved once: the line leaves the list (it is on a draft now).
      await page.locator('#reorder-groups section.supplier[data-supplier="pl-dairy"]').waitFor({ state: 'detached' });
      await shoot(page, 'reorder-approved');
      await draft.first().locator('button.send').click();
      await waitFor('the order to be sent', async () => (await ok('GET', `/api/purchase-orders/${poId}`)).status === 'sent', 10000);
      await page.locator('#reorder-drafts li').waitFor({ state: 'detached' });
    });
  } finally {
    await ctx.close();
  }

  await test('planning: a viewer sees the plans but not the reorder list', async () => {
    const v = await open('viewer', 'viewer');
    try {
      await v.page.click('#tabs button[data-tab="planning"]');
      await v.page.locator('#peak-map td.heat').first().waitFor({ timeout: 15000 });
      if (await v.page.isVisible('#reorder')) throw new Error('the reorder list is shown to a viewer');
    } finally {
      await v.ctx.close();
    }
  });
  await stop(edge);
}
