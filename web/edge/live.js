// Live updates: one EventSource on /api/events for the whole page. EventSource
// reconnects by itself (the server asks for 1 s) when the daemon restarts; after every
// reconnect the page re-reads its state, since events may have been missed meanwhile.
// Handlers subscribe by event-type prefix.

const handlers = [];
let source = null;
let everOpened = false;
let stopped = true;
let retryTimer = null;
let statusListener = () => {};

export const stats = { received: 0, lastType: '' };

export function on(prefix, fn) { handlers.push({ prefix, fn }); }
export function onStatus(fn) { statusListener = fn; }

function dispatch(type, data) {
  stats.received++;
  stats.lastType = type;
  let body;
  try { body = JSON.parse(data); } catch { return; }
  for (const h of handlers) {
    if (type.startsWith(h.prefix)) {
      try { h.fn(type, body); } catch (e) { console.error('handler failed', type, e); }
    }
  }
}

// onReconnect runs after every reconnect; onFirstOpen once, when the stream first
// opens, for reads that raced the stream's start (see app.js).
export function connect(onReconnect, onFirstOpen = () => {}) {
  stopped = false;
  if (source) source.close();
  source = new EventSource('/api/events');
  const known = new Set();
  // EventSource delivers named events only to listeners of that exact name, so listen
  // for each type as it is first seen through the generic handler below.
  const listen = (type) => {
    if (known.has(type)) return;
    known.add(type);
    source.addEventListener(type, (e) => dispatch(type, e.data));
  };
  for (const t of ['stock.changed', 'product.upserted', 'runner.updated', 'runner.presence',
    'runner.retired', 'runner.event', 'alert.raised', 'alert.updated', 'alert.resolved',
    'order.status', 'order.created', 'order.updated', 'order.claim', 'scanner.input', 'vision.shelf_scan', 'vision.camera_offline',
    'vision.camera_online', 'vision.phantom_stock', 'scan.unknown_code', 'count.opened',
    'count.closed', 'bins.updated', 'pricing.updated']) listen(t);
  source.onmessage = (e) => dispatch('message', e.data);
  source.onopen = () => {
    statusListener(true);
    if (everOpened) onReconnect();
    else onFirstOpen();
    everOpened = true;
  };
  source.onerror = () => {
    statusListener(false);
    if (source.readyState === EventSource.CLOSED && !stopped) {
      // Refused outright (e.g. 401 or 429): EventSource gives up, so try again later.
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => { if (!stopped) connect(onReconnect, onFirstOpen); }, 2000);
    }
  };
}

export function disconnect() {
  stopped = true;
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  everOpened = false;
}
