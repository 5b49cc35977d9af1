// The picker's handheld: one task per screen, large targets, high contrast, for a 5-6
// inch screen used with one gloved hand. Screens: a menu, Pick (the next order, one item
// at a time in bin-walk order, then Pack with a bag count), Receive (freely, or for a
// manager against an open purchase order, line by line), Move and Count.
// Scans come from a keyboard-wedge scanner or the camera (scanner.js); every action
// goes through the outbox (outbox.js), so a Wi-Fi drop stops nothing.
//
// Each handheld claims the order it picks (POST /api/orders/{id}/claim), so two pickers
// never walk the same order: the next-order step claims the first order nobody else
// holds, and leaving the pick screen gives the order back.
//
// A pick scan is checked here first against the pick list the edge gave (its barcodes),
// so the screen moves on at once; the edge checks it again when the action reaches it,
// and a refusal then puts the order back the way the edge sees it.
import { api, session, logout } from './api.js';
import { $, el, fmtTimer } from './util.js';
import * as live from './live.js';
import * as outbox from './outbox.js';
import * as scanner from './scanner.js';

const SCREENS = ['menu', 'pick', 'receive', 'move', 'count'];
const TITLES = { menu: 'ShopEasy', pick: 'Pick', receive: 'Receive', move: 'Move', count: 'Count' };

const ui = { screen: 'menu', message: null, timer: null, shortOpen: false, awaitingSubstitute: false };
export const metrics = { lastScanToScreenMs: null, scanToScreenMs: [], scans: 0, refused: 0 };

// ---------------------------------------------------------------- pick state

const pick = {
  phase: 'loading', // loading | item | pack | empty | waiting
  order: null, // the order's summary from /api/orders
  steps: [], // [{sku, name, bin, lot, expiry, barcodes, qty, done, skipped}]
  bags: 1,
  // Orders packed on this device: an order list read before the pack reached the edge
  // still shows them as picking, and they must not come back.
  packedHere: new Set(),
  next: null, // {order, list}: the following order's pick list, read ahead
  claimed: false, // the edge has confirmed this device's claim on pick.order
  others: [], // orders other pickers hold: [{id, picker}]
  problem: '',
  loadSeq: 0,
};

const promisedMs = (o) => o.promised_at_ms ?? null;
const remaining = (s) => (s.skipped ? 0 : s.qty - s.done);
const unitsLeft = () => pick.steps.reduce((n, s) => n + remaining(s), 0);
const currentStep = () => pick.steps.find((s) => remaining(s) > 0) || null;

function stepsFrom(list) {
  // The pick list has one entry per reserved bin and lot, in walk order, oldest expiry
  // first (FEFO); only units still to pick count, so they are spread over the entries.
  const left = new Map(list.lines.filter((l) => l.state === 'open').map((l) => [l.sku, l.remaining]));
  const steps = [];
  for (const e of list.entries) {
    const n = Math.min(e.qty, left.get(e.sku) || 0);
    if (n <= 0) continue;
    left.set(e.sku, left.get(e.sku) - n);
    steps.push({ sku: e.sku, name: e.name || e.sku, bin: e.bin, lot: e.lot || '', expiry: e.expiry || '',
      barcodes: e.barcodes || [], qty: n, done: 0, skipped: false });
  }
  // Units with no reservation left (should not happen) still need picking somewhere.
  for (const [sku, n] of left) {
    if (n > 0) steps.push({ sku, name: sku, bin: '?', lot: '', expiry: '', barcodes: [], qty: n, done: 0, skipped: false });
  }
  return steps;
}

function takeOrder(order, list, claimed) {
  pick.order = order;
  pick.claimed = claimed;
  pick.steps = stepsFrom(list);
  pick.bags = Math.min(MAX_BAGS, Math.max(1, Math.ceil(pick.steps.reduce((n, s) => n + s.qty, 0) / 8)));
  pick.phase = pick.steps.length ? 'item' : 'pack';
  pick.problem = '';
}

const claimPath = (id) => `/api/orders/${encodeURIComponent(id)}/claim`;

// A claim sent through the outbox, after whatever is already waiting there (offline, or
// coming back to an order given back on leaving the pick screen).
function queueClaim(id) {
  outbox.enqueue({ kind: 'claim', method: 'POST', path: claimPath(id), body: {}, label: `claim ${id}`, orderId: id });
}

// Gives the current order back so another picker can take it (the picks made so far stay
// with the order). Queued: it must reach the edge after this device's scans of it.
function releaseOrder() {
  if (!pick.order || pick.phase === 'loading') return;
  const id = pick.order.id;
  pick.claimed = false;
  outbox.enqueue({ kind: 'release', method: 'POST', path: `/api/orders/${encodeURIComponent(id)}/release`, body: {}, label: `release ${id}`, orderId: id });
}

// Claims the first order nobody else holds: this picker's own first, then the rest by
// promise. An order another picker holds answers 409 claimed_by_other and the next is
// tried; an order that moved on meanwhile (packed, cancelled) is skipped the same way.
// Returns {order, claimed} or null; offline, the first candidate with claimed false.
async function claimFirst(candidates, seq) {
  for (const order of candidates) {
    if (seq !== pick.loadSeq) return null;
    try {
      const o = await api('POST', claimPath(order.order_id), {}, { timeoutMs: 5000 });
      return { order: { ...order, picker: o.picker, id: order.order_id }, claimed: true };
    } catch (e) {
      if (e.status === 0 || e.status >= 500) {
        // The edge does not answer: go on with this order; the claim follows when it does.
        queueClaim(order.order_id);
        return { order: { ...order, id: order.order_id }, claimed: false };
      }
      if (e.reason === 'claimed_by_other') {
        pick.others = pick.others.filter((x) => x.id !== order.order_id).concat([{ id: order.order_id, picker: e.body.picker }]);
        continue;
      }
      if (e.status === 409 || e.status === 404) continue;
      throw e;
    }
  }
  return null;
}

async function loadNextOrder() {
  const seq = ++pick.loadSeq;
  pick.phase = pick.order ? pick.phase : 'loading';
  try {
    // Only the orders waiting for a picker: a store's history would not fit one page.
    const pages = await Promise.all(['picking', 'accepted'].map((st) => api('GET', `/api/orders?status=${st}&limit=500`)));
    const list = pages.flatMap((r) => r.items || []).filter((o) => !pick.packedHere.has(o.order_id));
    const rank = (o) => (o.picker === session.user ? 0 : o.picker ? 2 : 1);
    list.sort((a, b) => rank(a) - rank(b) || (promisedMs(a) ?? Infinity) - (promisedMs(b) ?? Infinity));
    if (seq !== pick.loadSeq) return;
    pick.others = list.filter((o) => o.picker && o.picker !== session.user).map((o) => ({ id: o.order_id, picker: o.picker }));
    const taken = list.length ? await claimFirst(list, seq) : null;
    if (seq !== pick.loadSeq) return;
    if (!taken) {
      pick.order = null;
      pick.steps = [];
      pick.phase = 'empty';
      // A claim given back arrives as an order.claim event; one that lapses by time sends
      // none: look again now and then.
      if (pick.others.length) setTimeout(() => { if (ui.screen === 'pick' && pick.phase === 'empty' && seq === pick.loadSeq) loadNextOrder(); }, 5000);
      render();
      return;
    }
    const order = taken.order;
    const id = order.id;
    pick.others = pick.others.filter((x) => x.id !== id);
    const pl = await api('GET', `/api/orders/${encodeURIComponent(id)}/picklist`);
    if (seq !== pick.loadSeq) return;
    takeOrder(order, pl, taken.claimed);
    // The order after this one, read now so that a Wi-Fi drop at the pack does not
    // leave the picker waiting for the next (it is claimed only when its turn comes).
    pick.next = null;
    const after = list.find((o) => o.order_id !== id && !o.picker);
    if (after) {
      api('GET', `/api/orders/${encodeURIComponent(after.order_id)}/picklist`)
        .then((p) => { if (seq === pick.loadSeq) pick.next = { order: { ...after, id: after.order_id }, list: p }; })
        .catch(() => {});
    }
  } catch (e) {
    if (seq !== pick.loadSeq) return;
    const next = pick.next;
    if (e.status === 0 && next && !pick.packedHere.has(next.order.id) && (!pick.order || pick.order.id !== next.order.id)) {
      // Offline: go on with the order read ahead; the edge checks every scan of it later,
      // and hears the claim when it answers again.
      pick.next = null;
      queueClaim(next.order.id);
      takeOrder(next.order, next.list, false);
      render();
      return;
    }
    pick.phase = 'waiting';
    pick.problem = e.status === 0 ? 'The store box does not answer; retrying' : e.message;
    setTimeout(() => { if (ui.screen === 'pick' && pick.phase === 'waiting') loadNextOrder(); }, 1500);
  }
  render();
}

// After a refusal the edge is right: read the order again once the queue has drained.
function reloadAfterQueue() {
  if (outbox.waiting().length) return;
  loadNextOrder();
}

function matchesCode(step, code, gtin) {
  return step.sku === code || (gtin && step.barcodes.includes(gtin));
}

function describeStep(s) {
  return `${s.name} (${s.sku}) from ${s.bin}`;
}

function onPickScan(code, t0) {
  if (pick.phase !== 'item' || !pick.order) {
    refuse(pick.phase === 'pack' ? 'Everything is picked: pack the order' : 'No order to pick', t0);
    return;
  }
  if (ui.awaitingSubstitute) { substituteScanned(code, t0); return; }
  const gtin = scanner.gtin14(code);
  const cur = currentStep();
  let step = cur && matchesCode(cur, code, gtin) ? cur : null;
  // The right item from a later bin is still the right item.
  if (!step) step = pick.steps.find((s) => remaining(s) > 0 && matchesCode(s, code, gtin)) || null;
  if (!step) {
    const known = pick.steps.some((s) => matchesCode(s, code, gtin));
    if (known || gtin || !navigator.onLine) {
      refuse(`Wrong item${known ? ': already picked in full' : ''}. Expected ${describeStep(cur)}`, t0);
      reportRefused(code);
      return;
    }
    // A code the pick list has no barcode for (a SKU label): the edge decides.
    sendPick(code, null, t0);
    return;
  }
  step.done++;
  sendPick(code, step, t0);
  if (!currentStep()) pick.phase = 'pack';
  show({ ok: true, text: `✓ ${step.name}  ${step.done}/${step.qty}` }, t0);
}

function sendPick(code, step, t0) {
  const orderId = pick.order.id;
  const scanId = outbox.newScanId();
  const item = {
    kind: 'pick', method: 'POST', path: `/api/orders/${encodeURIComponent(orderId)}/pick`,
    body: { code, qty: 1, scan_id: scanId, scanner_id: outbox.deviceId() },
    label: `pick ${step ? step.sku : code}`, orderId, sku: step ? step.sku : null, t0,
  };
  outbox.enqueue(item);
}

function refuse(text, t0) {
  metrics.refused++;
  show({ ok: false, text }, t0);
}

// A scan refused here is still sent to the edge (not queued: best effort), which refuses
// it too and counts and logs it with the store's other wrong scans. Should the edge take
// it after all, the pick list here was stale: read the order again.
function reportRefused(code) {
  const orderId = pick.order.id;
  api('POST', `/api/orders/${encodeURIComponent(orderId)}/pick`, { code, qty: 1, scan_id: outbox.newScanId(), scanner_id: outbox.deviceId() }, { timeoutMs: 5000 })
    .then(() => { if (pick.order && pick.order.id === orderId) reloadAfterQueue(); })
    .catch(() => {});
}

function shortLine(action) {
  const step = currentStep();
  if (!step) return;
  if (action === 'substitute') {
    ui.awaitingSubstitute = true;
    ui.shortOpen = false;
    show({ ok: true, text: `Scan the substitute for ${step.name}` }, null, false);
    return;
  }
  for (const s of pick.steps) if (s.sku === step.sku) s.skipped = true;
  outbox.enqueue({
    kind: 'short', method: 'POST', path: `/api/orders/${encodeURIComponent(pick.order.id)}/short`,
    body: { sku: step.sku, action: 'cancel_line' }, label: `short ${step.sku}`, orderId: pick.order.id,
  });
  ui.shortOpen = false;
  if (!currentStep()) pick.phase = 'pack';
  show({ ok: true, text: `${step.name}: the rest of the line dropped` }, null);
}

async function substituteScanned(code, t0) {
  const step = currentStep();
  ui.awaitingSubstitute = false;
  let product;
  try {
    product = await api('POST', '/api/scans', { scan_id: outbox.newScanId(), scanner_id: outbox.deviceId(), code, action: 'lookup' });
  } catch (e) {
    refuse(`Cannot use that as a substitute: ${e.message}`, t0);
    return;
  }
  try {
    await api('POST', `/api/orders/${encodeURIComponent(pick.order.id)}/short`, { sku: step.sku, action: 'substitute', substitute_sku: product.sku });
  } catch (e) {
    refuse(`Substitute refused: ${e.message}`, t0);
    return;
  }
  show({ ok: true, text: `${product.name} replaces ${step.name}` }, t0);
  loadNextOrderKeepingOrder();
}

// Reads the current order's pick list again (after a substitution changed its lines).
async function loadNextOrderKeepingOrder() {
  try {
    const pl = await api('GET', `/api/orders/${encodeURIComponent(pick.order.id)}/picklist`);
    pick.steps = stepsFrom(pl);
    pick.claimed = true;
    pick.phase = pick.steps.length ? 'item' : 'pack';
  } catch (e) { pick.problem = e.message; }
  render();
}

function packOrder() {
  const id = pick.order.id;
  pick.packedHere.add(id);
  if (pick.packedHere.size > 500) pick.packedHere.delete(pick.packedHere.values().next().value);
  outbox.enqueue({
    kind: 'pack', method: 'POST', path: `/api/orders/${encodeURIComponent(id)}/pack`,
    body: { bags: pick.bags }, label: `pack ${id} (${pick.bags} bags)`, orderId: id,
  });
  show({ ok: true, text: `Order ${id} packed in ${pick.bags} bag${pick.bags === 1 ? '' : 's'}` }, null, false);
  pick.order = null;
  pick.steps = [];
  pick.phase = 'loading';
  render();
  loadNextOrder();
}

// ---------------------------------------------------------------- receive, move, count

const stock = {
  receive: { bin: '', qty: 1, log: [] },
  move: { bin: '', to: '', qty: 1, log: [] },
  count: { id: '', bin: '', qty: 1, tally: new Map(), log: [] },
};

function stockMessage(kind, entry, what) {
  const s = stock[kind];
  const where = kind === 'move' ? `${s.bin} → ${s.to}` : s.bin;
  const lot = entry.lot || entry.expiry ? ` · lot ${entry.lot || '-'} · exp ${entry.expiry || '-'}` : '';
  const verb = { receive: 'received into', move: 'moved', count: 'counted in' }[kind];
  return `${entry.qty} × ${what} ${verb} ${where}${lot}`;
}

function stockScan(kind, code, t0) {
  const s = stock[kind];
  if (!s.bin) { refuse(kind === 'move' ? 'Enter the bin to move from first' : 'Enter the bin first', t0); return; }
  if (kind === 'move' && !s.to) { refuse('Enter the bin to move to first', t0); return; }
  if (kind === 'count' && !s.id) { refuse('Open or enter a count first', t0); return; }
  const gs1 = scanner.parseGs1(code);
  const body = { scan_id: outbox.newScanId(), scanner_id: outbox.deviceId(), code, action: kind, qty: s.qty, bin: s.bin };
  if (kind === 'move') body.to_bin = s.to;
  if (kind === 'count') body.count_id = s.id;
  const entry = { scanId: body.scan_id, code, qty: s.qty, lot: gs1?.lot || '', expiry: gs1?.expiry || '', name: '', state: 'waiting' };
  s.log.unshift(entry);
  s.log.length = Math.min(s.log.length, 5);
  if (kind === 'count') s.tally.set(code, (s.tally.get(code) || 0) + s.qty);
  outbox.enqueue({ kind, method: 'POST', path: '/api/scans', body, label: `${kind} ${code} x${s.qty}`, entry });
  show({ ok: true, text: stockMessage(kind, entry, gs1 ? gs1.gtin : code) }, t0);
}

// ---------------------------------------------------------------- receive against a purchase order

// The edge keeps the purchase-order routes to managers and admins (receiving against an
// order moves stock and closes the supplier's delivery): only they see the choice. A
// picker receives freely, as the scan routes allow.
const PO_ROLES = new Set(['manager', 'admin']);
const mayReceivePo = () => PO_ROLES.has(session.role);

const po = {
  mode: 'choose', // choose | po | free (a picker is always free)
  list: [], // the open purchase orders, as /api/purchase-orders gives them
  listState: 'idle', // idle | loading | ready | failed
  problem: '',
  order: null, // the chosen purchase order as the edge last answered it
  products: new Map(), // sku -> {name, barcodes (GTIN-14)} of the chosen order's lines
  bin: '', // '' = each product's home bin
  qty: 1,
  log: [],
};

const poPath = (id) => `/api/purchase-orders/${encodeURIComponent(id)}`;
const poName = (sku) => (po.products.get(sku) || {}).name || sku;

// Units scanned on this device and not yet answered by the edge, per line: they count as
// received here, so a second scan cannot take the line past what was ordered.
function pendingUnits(poId, lineNo) {
  return outbox.waiting('po-receive').filter((i) => i.poId === poId && i.lineNo === lineNo).reduce((n, i) => n + i.units, 0);
}

function lineFigures(order, l) {
  const pending = pendingUnits(order.po_id, l.line_no);
  return { ordered: l.qty, received: l.received, pending, remaining: Math.max(0, l.qty - l.received - pending) };
}

const poComplete = (order) => order.status === 'received' || order.lines.every((l) => l.received >= l.qty);
const poAllScanned = (order) => order.lines.every((l) => lineFigures(order, l).remaining === 0);

async function loadPoList() {
  po.listState = 'loading';
  try {
    const pages = await Promise.all(['sent', 'partially_received'].map((st) => api('GET', `/api/purchase-orders?status=${st}&limit=100`)));
    po.list = pages.flatMap((r) => r.items || []).sort((a, b) => a.po_id.localeCompare(b.po_id));
    po.listState = 'ready';
  } catch (e) {
    po.listState = 'failed';
    po.problem = e.status === 0 ? 'The store box does not answer' : e.message;
  }
  if (ui.screen === 'receive') render();
}

// Opens a purchase order for receiving and reads the names and barcodes of its products,
// so that each scan is matched to its line on the device at once.
async function choosePo(order) {
  po.order = order;
  po.mode = 'po';
  po.log = [];
  ui.message = null;
  render();
  await Promise.all(order.lines.filter((l) => !po.products.has(l.sku)).map(async (l) => {
    try {
      const item = await api('GET', `/api/stock/${encodeURIComponent(l.sku)}`);
      po.products.set(l.sku, { name: item.name || l.sku, barcodes: item.barcodes || [] });
    } catch (e) { /* unknown here: the edge matches this line's scans itself */ }
  }));
  // The list may be older than the order: take the edge's current state.
  try {
    const fresh = await api('GET', poPath(order.po_id));
    if (po.order && po.order.po_id === fresh.po_id) po.order = fresh;
  } catch (e) { /* offline: receive against the list's copy; the edge checks every scan */ }
  if (ui.screen === 'receive') render();
}

function poLineFor(order, code, gtin) {
  return order.lines.find((l) => l.sku === code || (gtin && ((po.products.get(l.sku) || {}).barcodes || []).includes(gtin))) || null;
}

function onPoScan(code, t0) {
  const order = po.order;
  if (poAllScanned(order)) { refuse(`Every line of ${order.po_id} is received`, t0); return; }
  const gs1 = scanner.parseGs1(code);
  const gtin = scanner.gtin14(code);
  const line = poLineFor(order, code, gtin);
  if (!line) {
    // A product code matching no line is refused here when every line's barcodes are
    // known; anything else (a case label, a SKU label) is left to the edge.
    if (gtin && order.lines.every((l) => po.products.has(l.sku))) {
      refuse(`Not on ${order.po_id}: ${gtin}`, t0);
      nameRefused(code, order.po_id);
      return;
    }
    sendPoReceipt(code, null, gs1, t0);
    return;
  }
  const f = lineFigures(order, line);
  if (po.qty > f.remaining) {
    refuse(`Over receipt: ${poName(line.sku)} has ${f.remaining} of ${f.ordered} still to come, ${po.qty} scanned`, t0);
    return;
  }
  sendPoReceipt(code, line, gs1, t0);
}

// Names a product refused as not on the order once the edge has said which it is.
function nameRefused(code, poId) {
  const shown = ui.message;
  api('POST', '/api/scans', { scan_id: outbox.newScanId(), scanner_id: outbox.deviceId(), code, action: 'lookup' }, { timeoutMs: 5000 })
    .then((p) => {
      if (ui.message !== shown || ui.screen !== 'receive') return;
      ui.message = { ok: false, text: `Not on ${poId}: ${p.name} (${p.sku})` };
      render();
    })
    .catch(() => {});
}

function sendPoReceipt(code, line, gs1, t0) {
  const order = po.order;
  // A fresh receipt id per scan: the edge applies each id once, so the outbox may resend.
  const body = { receipt_id: outbox.newScanId(), code, qty: po.qty };
  if (po.bin) body.bin = po.bin;
  if (gs1 && gs1.lot) body.lot = gs1.lot;
  if (gs1 && gs1.expiry) body.expiry = gs1.expiry;
  const entry = { code, qty: po.qty, lot: body.lot || '', expiry: body.expiry || '', name: line ? poName(line.sku) : '', state: 'waiting' };
  po.log.unshift(entry);
  po.log.length = Math.min(po.log.length, 5);
  outbox.enqueue({
    kind: 'po-receive', method: 'POST', path: `${poPath(order.po_id)}/receive`, body,
    label: `receive ${line ? line.sku : code} x${po.qty} on ${order.po_id}`,
    poId: order.po_id, lineNo: line ? line.line_no : null, units: line ? po.qty : 0, entry,
  });
  if (!line) { show({ ok: true, text: `Sent to the store box to match: ${code}` }, t0); return; }
  const f = lineFigures(order, line);
  const lot = entry.lot || entry.expiry ? ` · lot ${entry.lot || '-'} · exp ${entry.expiry || '-'}` : '';
  // "Scanned": the edge says "received" (poAnswered) once it has applied the last receipt.
  const text = poAllScanned(order) ? `✓ ${poName(line.sku)}: every line of ${order.po_id} is scanned`
    : `✓ ${po.qty} × ${poName(line.sku)}: ${f.ordered - f.remaining} of ${f.ordered}${lot}`;
  show({ ok: true, text }, t0);
}

function poAnswered(item, response, error) {
  if (item.entry) {
    item.entry.state = error ? 'refused' : 'done';
    item.entry.name = error ? error.message : poName(response.sku);
  }
  if (!error && response.order && po.order && response.order.po_id === po.order.po_id) {
    const was = poComplete(po.order);
    po.order = response.order;
    if (!was && poComplete(po.order) && ui.screen === 'receive') ui.message = { ok: true, text: `Every line of ${po.order.po_id} is received` };
  }
  if (error) {
    refuse(`${item.poId}: ${error.message}`, null);
    // The order as the edge has it now.
    api('GET', poPath(item.poId)).then((o) => {
      if (po.order && po.order.po_id === o.po_id) { po.order = o; if (ui.screen === 'receive') render(); }
    }).catch(() => {});
    return;
  }
  if (ui.screen === 'receive') render();
}

function renderPoChoice() {
  const parts = [el('p', { class: 'hh-note', text: 'Receive against a purchase order, or freely' })];
  if (po.listState === 'loading' || po.listState === 'idle') parts.push(el('p', { class: 'hh-note', text: 'Loading open purchase orders…' }));
  if (po.listState === 'failed') {
    parts.push(el('p', { class: 'hh-note', id: 'hh-po-problem', text: po.problem }));
    parts.push(bigButton('Try again', 'hh-plain', () => { loadPoList(); render(); }, 'hh-po-retry'));
  }
  if (po.listState === 'ready' && !po.list.length) parts.push(el('p', { class: 'hh-note', id: 'hh-po-none', text: 'No purchase order is open' }));
  if (po.list.length) {
    parts.push(el('div', { class: 'hh-actions', id: 'hh-po-list' }, po.list.map((o) => {
      const open = o.lines.reduce((n, l) => n + Math.max(0, l.qty - l.received), 0);
      const b = bigButton(`${o.po_id} · ${o.supplier_id} · ${o.lines.length} line${o.lines.length === 1 ? '' : 's'}, ${open} to come`, 'hh-plain hh-po-choice', () => choosePo(o));
      b.dataset.po = o.po_id;
      return b;
    })));
  }
  parts.push(bigButton('Free receiving', 'hh-plain', () => { po.mode = 'free'; ui.message = null; render(); }, 'hh-receive-free'));
  return parts;
}

function renderPo() {
  const order = po.order;
  const parts = [el('div', { class: 'hh-order' },
    el('span', { class: 'hh-order-id', id: 'hh-po-id', text: order.po_id }),
    el('span', { class: 'hh-po-supplier muted', text: order.supplier_id }))];
  if (poComplete(order)) parts.push(el('div', { class: 'hh-card hh-po-done', id: 'hh-po-done', text: `Every line of ${order.po_id} is received` }));
  parts.push(el('ul', { class: 'hh-po-lines', id: 'hh-po-lines' }, order.lines.map((l) => {
    const f = lineFigures(order, l);
    return el('li', { class: f.remaining === 0 ? 'hh-po-full' : '', dataset: { sku: l.sku, ordered: String(f.ordered), received: String(l.received), remaining: String(f.remaining) } },
      el('div', { class: 'hh-po-name', text: `${poName(l.sku)} (${l.sku})` }),
      el('div', { class: 'hh-po-nums' },
        el('span', { text: `ordered ${f.ordered}` }),
        el('span', { text: `received ${l.received}${f.pending ? ` +${f.pending} sending` : ''}` }),
        el('span', { class: 'hh-po-left', text: `remaining ${f.remaining}` })));
  })));
  parts.push(binField('hh-po-bin', 'Bin (empty: the item\'s home bin)', po.bin, (v) => { po.bin = v; render(); }));
  parts.push(el('div', { class: 'hh-field' }, el('span', { text: 'Units per scan' }), stepper(po.qty, (n) => { po.qty = n; render(); }, 'hh-po-qty')));
  parts.push(el('p', { class: 'hh-hint', text: 'Scan an item of the order' }));
  parts.push(el('ul', { class: 'hh-log', id: 'hh-po-log' }, po.log.map((e) => el('li', { class: `hh-${e.state}` },
    `${e.qty} × ${e.name || e.code}${e.lot ? ` · lot ${e.lot}` : ''}${e.expiry ? ` · exp ${e.expiry}` : ''} · ${e.state}`))));
  parts.push(bigButton('Another order or free receiving', 'hh-plain', () => { po.mode = 'choose'; po.order = null; ui.message = null; loadPoList(); render(); }, 'hh-po-change'));
  return parts;
}

function renderReceive() {
  if (!mayReceivePo()) {
    return [...renderStock('receive'), el('p', { class: 'hh-note muted', id: 'hh-po-manager', text: 'Receiving against a purchase order needs a manager' })];
  }
  if (po.mode === 'po' && po.order) return renderPo();
  if (po.mode === 'free') {
    return [...renderStock('receive'), bigButton('Against a purchase order', 'hh-plain', () => { po.mode = 'choose'; loadPoList(); render(); }, 'hh-receive-po')];
  }
  return renderPoChoice();
}

// ---------------------------------------------------------------- answers from the edge

// Packs and short picks carry no scan id: sent again after a reply was lost, the edge
// refuses them because they already happened. Such a refusal is no problem to report.
async function alreadyDone(item) {
  try {
    if (item.kind === 'pack') {
      const o = await api('GET', `/api/orders/${encodeURIComponent(item.orderId)}`);
      return ['packed', 'out_for_delivery', 'delivered'].includes(o.status);
    }
    const pl = await api('GET', `/api/orders/${encodeURIComponent(item.orderId)}/picklist`);
    const line = pl.lines.find((l) => l.sku === item.body.sku);
    return !!line && line.state !== 'open';
  } catch (e) {
    return false;
  }
}

async function answered(item, response, error) {
  if (item.kind === 'po-receive') { poAnswered(item, response, error); return; }
  if (item.entry) {
    item.entry.state = error ? 'refused' : 'done';
    if (response && response.name) item.entry.name = response.name;
    if (error) item.entry.name = error.message;
    // The latest scan's banner names the product once the edge has said which it is.
    const latest = stock[item.kind] && stock[item.kind].log[0] === item.entry;
    if (latest && !error && ui.screen === item.kind && item.entry.name) {
      ui.message = { ok: true, text: stockMessage(item.kind, item.entry, item.entry.name) };
    }
  }
  if (item.kind === 'release') return; // given back, or someone had taken it meanwhile
  if (item.kind === 'claim') {
    const current = pick.order && pick.order.id === item.orderId;
    if (!error) {
      if (current) { pick.claimed = true; pick.order.picker = response.picker; }
      if (ui.screen === 'pick') render();
      return;
    }
    if (!current) return;
    // Someone else took the order while this device was away or offline: leave it to
    // them (what was picked here is already on the order) and take the next.
    refuse(error.reason === 'claimed_by_other' ? `Order ${item.orderId} is being picked by ${error.body.picker}` : error.message, null);
    pick.order = null;
    pick.steps = [];
    pick.phase = 'loading';
    loadNextOrder();
    return;
  }
  if (!error) {
    if (item.kind === 'pick' && !item.sku && response && pick.order && item.orderId === pick.order.id) {
      // A code only the edge could read: count it against its line now.
      const step = pick.steps.find((s) => s.sku === response.sku && remaining(s) > 0);
      if (step) step.done++;
      if (!currentStep()) pick.phase = 'pack';
      show({ ok: true, text: `✓ ${response.name}` }, item.t0);
      return;
    }
    if (ui.screen !== 'menu') render();
    return;
  }
  if ((item.kind === 'pack' || item.kind === 'short') && await alreadyDone(item)) return;
  if (item.kind === 'pack') pick.packedHere.delete(item.orderId);
  refuse(error.message, null);
  if (item.orderId && (!pick.order || pick.order.id === item.orderId || item.kind === 'pack')) {
    // The order as the edge has it, once nothing else is waiting for it.
    setTimeout(reloadAfterQueue, 0);
  }
}

// ---------------------------------------------------------------- rendering

function show(message, t0, beep = true) {
  ui.message = message;
  render();
  // Sound and vibration right after the frame that shows the result: opening the audio
  // device can take a long time on first use, and must not hold the screen back.
  if (beep) requestAnimationFrame(() => setTimeout(() => scanner.feedback(message.ok), 0));
  if (t0) {
    // From the scan's Enter key to the frame after the one that drew this screen (the
    // second animation frame starts only once the first was painted): an upper bound.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const ms = performance.now() - t0;
      metrics.lastScanToScreenMs = ms;
      metrics.scanToScreenMs.push(ms);
      if (metrics.scanToScreenMs.length > 200) metrics.scanToScreenMs.shift();
    }));
  }
}

function bigButton(text, cls, onclick, id) {
  const b = el('button', { type: 'button', class: `hh-btn ${cls}`, id, onclick: (ev) => { ev.currentTarget.blur(); onclick(); } }, text);
  return b;
}

// The edge takes 1..50 bags per order.
const MAX_BAGS = 50;

function stepper(value, set, id, max = 999) {
  return el('div', { class: 'hh-stepper', id },
    bigButton('−', 'hh-small', () => set(Math.max(1, value - 1)), id && `${id}-minus`),
    el('output', { class: 'hh-count', text: String(value) }),
    bigButton('+', 'hh-small', () => set(Math.min(max, value + 1)), id && `${id}-plus`));
}

function binField(id, label, value, set) {
  const input = el('input', { id, class: 'hh-input', value, maxlength: 64, autocomplete: 'off', autocapitalize: 'characters', placeholder: 'scan or type' });
  input.addEventListener('change', () => set(input.value.trim()));
  // A bin label scanned into the field ends with Enter: take it and let go of the
  // field, so the next scan is an item again.
  input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); set(input.value.trim()); input.blur(); render(); } });
  return el('label', { class: 'hh-field' }, el('span', { text: label }), input);
}

function timerText(o) {
  const p = o && promisedMs(o);
  return p ? fmtTimer(p - Date.now()) : '';
}

function renderPick() {
  if (pick.phase === 'loading') return [el('p', { class: 'hh-note', text: 'Loading the next order…' })];
  if (pick.phase === 'waiting') return [el('p', { class: 'hh-note', id: 'hh-pick-waiting', text: pick.problem })];
  const others = pick.others.length
    ? el('ul', { class: 'hh-log', id: 'hh-pick-others' }, pick.others.slice(0, 5).map((x) => el('li', { text: `${x.id}: ${x.picker} is picking` })))
    : null;
  if (pick.phase === 'empty') {
    return [el('p', { class: 'hh-note', id: 'hh-pick-empty', text: pick.others.length ? 'No order free to pick. Other pickers hold:' : 'No orders waiting. New ones appear here.' }), others].filter(Boolean);
  }
  const o = pick.order;
  const left = promisedMs(o) - Date.now();
  const head = el('div', { class: 'hh-order' },
    el('span', { class: 'hh-order-id', id: 'hh-order-id', text: o.id }),
    el('span', { class: `hh-timer${left < 120000 ? ' hh-late' : ''}`, id: 'hh-timer', text: timerText(o) }));
  const total = pick.steps.reduce((n, s) => n + (s.skipped ? s.done : s.qty), 0);
  const picked = pick.steps.reduce((n, s) => n + s.done, 0);
  const progress = el('div', { class: 'hh-progress', id: 'hh-progress', text: `${picked} of ${total} units picked` });
  const holder = el('div', { class: 'hh-holder muted', id: 'hh-holder', dataset: { claimed: String(pick.claimed) },
    text: pick.claimed ? `Held by ${o.picker || session.user} (you)` : 'Claim waiting for the store box' });
  if (pick.phase === 'pack') {
    return [head, holder, progress,
      el('div', { class: 'hh-card', id: 'hh-pack' },
        el('div', { class: 'hh-label', text: 'Bags' }),
        stepper(pick.bags, (n) => { pick.bags = n; render(); }, 'hh-bags', MAX_BAGS)),
      bigButton('Packed', 'hh-go', packOrder, 'hh-pack-done')];
  }
  const s = currentStep();
  const card = el('div', { class: 'hh-card', id: 'hh-item', dataset: { sku: s.sku, bin: s.bin } },
    el('div', { class: 'hh-bin', id: 'hh-bin', text: s.bin }),
    el('div', { class: 'hh-item-row' },
      el('div', { class: 'hh-img', 'aria-hidden': 'true', text: s.name.slice(0, 1).toUpperCase() }),
      el('div', { class: 'hh-name', id: 'hh-name', text: s.name })),
    el('div', { class: 'hh-qty', id: 'hh-qty', text: `${s.done} / ${s.qty}` }),
    el('div', { class: 'hh-lot', id: 'hh-lot', text: s.lot || s.expiry ? `Lot ${s.lot || '-'} · use by ${s.expiry || '-'}` : 'Any lot' }),
    el('div', { class: 'hh-sku muted', text: s.sku }));
  const actions = ui.shortOpen
    ? el('div', { class: 'hh-actions' },
      bigButton('None left: drop line', 'hh-warn', () => shortLine('cancel_line'), 'hh-short-drop'),
      session.role === 'picker' ? el('p', { class: 'hh-note', text: 'A substitute needs a manager' })
        : bigButton('Substitute', 'hh-plain', () => shortLine('substitute'), 'hh-short-sub'),
      bigButton('Back', 'hh-plain', () => { ui.shortOpen = false; render(); }, 'hh-short-back'))
    : el('div', { class: 'hh-actions' },
      bigButton('Short / substitute', 'hh-plain', () => { ui.shortOpen = true; render(); }, 'hh-short'));
  return [head, holder, progress, card, el('p', { class: 'hh-hint', text: ui.awaitingSubstitute ? 'Scan the substitute' : 'Scan the item' }), actions];
}

function renderStock(kind) {
  const s = stock[kind];
  const set = (field) => (v) => { s[field] = v; render(); };
  const parts = [];
  if (kind === 'count') {
    parts.push(binField('hh-count-id', 'Count number', s.id, set('id')));
    if (session.role !== 'picker') parts.push(bigButton('Open a count of this bin', 'hh-plain', openCount, 'hh-count-open'));
  }
  parts.push(binField(`hh-${kind}-bin`, kind === 'move' ? 'From bin' : 'Bin', s.bin, set('bin')));
  if (kind === 'move') parts.push(binField('hh-move-to', 'To bin', s.to, set('to')));
  parts.push(el('div', { class: 'hh-field' }, el('span', { text: 'Units per scan' }), stepper(s.qty, set('qty'), `hh-${kind}-qty`)));
  parts.push(el('p', { class: 'hh-hint', text: 'Scan the item' }));
  parts.push(el('ul', { class: 'hh-log', id: `hh-${kind}-log` }, s.log.map((e) => el('li', { class: `hh-${e.state}` },
    `${e.qty} × ${e.name || e.code}${e.lot ? ` · lot ${e.lot}` : ''}${e.expiry ? ` · exp ${e.expiry}` : ''} · ${e.state}`))));
  if (kind === 'count' && s.id && session.role !== 'picker') parts.push(bigButton('Close the count', 'hh-plain', closeCount, 'hh-count-close'));
  return parts;
}

async function openCount() {
  const s = stock.count;
  if (!s.bin) { refuse('Enter the bin first', null); return; }
  try {
    const r = await api('POST', '/api/counts', { bin: s.bin });
    s.id = String(r.count_id);
    s.tally.clear();
    s.log = [];
    show({ ok: true, text: `Count ${s.id} of ${s.bin} open` }, null, false);
  } catch (e) { refuse(e.message, null); }
}

async function closeCount() {
  const s = stock.count;
  try {
    await api('POST', `/api/counts/${encodeURIComponent(s.id)}/close`, {});
    show({ ok: true, text: `Count ${s.id} closed` }, null, false);
    s.id = '';
  } catch (e) { refuse(e.message, null); }
}

// ---------------------------------------------------------------- paired MQTT scanner

// A ring or gun scanner that talks MQTT (scanners/{id}/scan with action "lookup") can
// drive this screen: the edge publishes each of its reads as a live scanner.input event,
// and this device takes the reads of the scanner it is paired with as its own scans.
const PAIR_KEY = 'shopeasy.hh.pairedScanner';
const paired = { id: localStorage.getItem(PAIR_KEY) || '', seen: new Set() };

function onScannerInput(_type, body) {
  if (!body || !paired.id || body.scanner_id !== paired.id || typeof body.code !== 'string') return;
  // QoS 1 may deliver a read twice; its scan id makes the second a no-op.
  if (body.scan_id) {
    if (paired.seen.has(body.scan_id)) return;
    paired.seen.add(body.scan_id);
    if (paired.seen.size > 500) paired.seen.delete(paired.seen.values().next().value);
  }
  onScan(body.code, { source: 'mqtt', at: performance.now() });
}

function savePairing(id) {
  paired.id = id.trim();
  if (paired.id) localStorage.setItem(PAIR_KEY, paired.id);
  else localStorage.removeItem(PAIR_KEY);
  show({ ok: true, text: paired.id ? `Paired with scanner ${paired.id}` : 'No scanner paired' }, null, false);
  render();
}

function renderMenu() {
  const input = el('input', { id: 'hh-pair-id', type: 'text', value: paired.id, placeholder: 'scanner id',
    autocomplete: 'off', 'aria-label': 'Paired scanner id' });
  return [el('div', { class: 'hh-menu' },
    bigButton('Pick', 'hh-go', () => go('pick'), 'hh-go-pick'),
    bigButton('Receive', 'hh-plain', () => go('receive'), 'hh-go-receive'),
    bigButton('Move', 'hh-plain', () => go('move'), 'hh-go-move'),
    bigButton('Count', 'hh-plain', () => go('count'), 'hh-go-count')),
  el('form', { class: 'hh-pair', id: 'hh-pair', onsubmit: (e) => { e.preventDefault(); savePairing(input.value); } },
    el('label', { for: 'hh-pair-id', text: paired.id ? `Scanner ${paired.id} drives this screen` : 'Pair an MQTT scanner' }),
    input,
    el('button', { type: 'submit', class: 'hh-plain', id: 'hh-pair-save', text: 'Pair' }))];
}

function renderQueue() {
  const q = outbox.status();
  const box = $('hh-queue');
  box.hidden = q.waiting === 0 && !q.offline;
  box.classList.toggle('hh-offline', q.offline);
  box.textContent = q.waiting === 0 ? 'Store box not answering'
    : `${q.offline ? 'Offline: ' : 'Sending: '}${q.waiting} waiting (${q.labels.slice(0, 2).join(', ')}${q.waiting > 2 ? ', …' : ''})`;
}

function render() {
  $('hh-title').textContent = TITLES[ui.screen];
  $('hh-back').hidden = ui.screen === 'menu';
  const body = ui.screen === 'menu' ? renderMenu() : ui.screen === 'pick' ? renderPick()
    : ui.screen === 'receive' ? renderReceive() : renderStock(ui.screen);
  const msg = ui.message;
  $('hh-msg').hidden = !msg;
  if (msg) {
    $('hh-msg').className = `hh-msg ${msg.ok ? 'hh-ok' : 'hh-bad'}`;
    $('hh-msg').textContent = msg.text;
  }
  // Inputs keep their focus and caret across renders only if left alone: rebuild the
  // screen only when no field is being typed in.
  const active = document.activeElement;
  if (active && active.tagName === 'INPUT' && $('hh-screen').contains(active)) return;
  $('hh-screen').replaceChildren(...body);
  $('hh-screen').dataset.screen = ui.screen;
  $('hh-screen').dataset.phase = ui.screen === 'pick' ? pick.phase : ui.screen === 'receive' && mayReceivePo() ? po.mode : '';
  renderQueue();
}

function go(screen) {
  if (!SCREENS.includes(screen)) screen = 'menu';
  if (ui.screen === 'pick' && screen !== 'pick') releaseOrder();
  const returning = ui.screen !== 'pick' && screen === 'pick';
  ui.screen = screen;
  ui.message = null;
  ui.shortOpen = false;
  ui.awaitingSubstitute = false;
  if (location.hash !== `#hh-${screen}`) history.replaceState(null, '', `#hh-${screen}`);
  if (screen === 'pick' && (!pick.order || pick.phase !== 'item')) loadNextOrder();
  else if (returning && !pick.claimed) queueClaim(pick.order.id); // given back on leaving
  if (screen === 'receive' && mayReceivePo() && po.mode === 'choose') loadPoList();
  render();
}

// ---------------------------------------------------------------- scans

function onScan(code, { at }) {
  metrics.scans++;
  const t0 = at ?? performance.now();
  code = code.trim();
  if (!code) return;
  switch (ui.screen) {
    case 'pick': onPickScan(code, t0); break;
    case 'receive':
      if (!mayReceivePo() || po.mode === 'free') stockScan('receive', code, t0);
      else if (po.mode === 'po' && po.order) onPoScan(code, t0);
      else refuse('Choose a purchase order or free receiving first', t0);
      break;
    case 'move': case 'count': stockScan(ui.screen, code, t0); break;
    default: refuse('Choose Pick, Receive, Move or Count first', t0);
  }
}

async function toggleCamera() {
  const video = $('hh-video');
  if (scanner.cameraOn()) {
    scanner.stopCamera();
    video.hidden = true;
    $('hh-camera').textContent = 'Camera';
    return;
  }
  try {
    video.hidden = false;
    $('hh-camera').textContent = 'Stop camera';
    await scanner.startCamera(video, onScan, (e) => { if (e.status && e.status !== 0) refuse(`Camera: ${e.message}`, null); });
  } catch (e) {
    video.hidden = true;
    $('hh-camera').textContent = 'Camera';
    refuse(`No camera: ${e.message}`, null);
  }
}

// ---------------------------------------------------------------- start

let started = false;

export function start({ onDesktop }) {
  document.body.classList.add('handheld');
  $('hh-view').hidden = false;
  $('hh-user').textContent = `${session.user} · ${session.role}`;
  if (!started) {
    started = true;
    $('hh-back').addEventListener('click', () => go('menu'));
    $('hh-camera').addEventListener('click', toggleCamera);
    $('hh-desktop').addEventListener('click', onDesktop);
    $('hh-logout').addEventListener('click', async () => {
      scanner.stopCamera();
      if (ui.screen === 'pick' && pick.order && pick.claimed) {
        // The outbox dies with the session: give the order back directly, best effort.
        await api('POST', `/api/orders/${encodeURIComponent(pick.order.id)}/release`, {}, { timeoutMs: 2000 }).catch(() => {});
      }
      await logout();
      location.hash = '';
      location.reload();
    });
    scanner.startWedge(onScan);
    scanner.prepareAudio();
    outbox.onChange(renderQueue);
    outbox.onAnswer(answered);
    live.on('scanner.input', onScannerInput);
    live.onStatus((up) => {
      $('hh-live').classList.toggle('on', up);
      $('hh-live').textContent = up ? 'live' : 'offline';
    });
    live.on('order.', (type, body) => {
      // A manager took over the order this device holds: say so and move on.
      if (type === 'order.claim' && ui.screen === 'pick' && pick.order && body && body.order_id === pick.order.id &&
          body.picker && body.picker !== session.user && pick.claimed) {
        pick.claimed = false;
        refuse(`Order ${pick.order.id} was taken over by ${body.picker}`, null);
        pick.order = null;
        pick.phase = 'loading';
        loadNextOrder();
        return;
      }
      if (ui.screen === 'pick' && (pick.phase === 'empty' || pick.phase === 'waiting')) loadNextOrder();
    });
    ui.timer = setInterval(() => {
      const t = $('hh-timer');
      if (t && pick.order) {
        t.textContent = timerText(pick.order);
        t.classList.toggle('hh-late', promisedMs(pick.order) - Date.now() < 120000);
      }
    }, 1000);
  }
  live.connect(() => { outbox.pump(); if (ui.screen === 'pick' && pick.phase !== 'item' && pick.phase !== 'pack') loadNextOrder(); });
  outbox.restore();
  const wanted = location.hash.startsWith('#hh-') ? location.hash.slice(4) : (session.role === 'picker' ? 'pick' : 'menu');
  go(wanted);
  document.body.dataset.ready = 'true';
}

export function stop() {
  scanner.stopCamera();
  if (ui.screen === 'pick') {
    releaseOrder();
    ui.screen = 'menu';
  }
  $('hh-view').hidden = true;
  document.body.classList.remove('handheld');
}

window.shopeasyHandheld = { metrics, outbox: outbox.status, outboxStats: outbox.stats, scanner: scanner.stats, paired: () => paired.id, pick: () => ({ phase: pick.phase, order: pick.order && pick.order.id, claimed: pick.claimed, others: pick.others, left: unitsLeft(), step: currentStep() }), po: () => ({ mode: po.mode, order: po.order }) };
