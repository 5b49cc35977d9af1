// An order's live events (GET /api/orders/{id}/events, Server-Sent Events). EventSource
// cannot send the Authorization header, so the stream is read with fetch and parsed
// here. Every event's id is remembered (sessionStorage, per order) and sent back as
// Last-Event-ID on each reconnect, so a dropped connection, a cloud restart or a page
// reload resumes where it stopped; reconnects back off from 0.5 s to 5 s.
import { api, auth, refresh } from './api.js';

const lastIdKey = (orderId) => `shopeasy.shop.last-event.${orderId}`;

export function follow(orderId, { onEvent, onOpen = () => {}, onDown = () => {}, isFinal = () => false }) {
  let stopped = false;
  let controller = null;
  let delay = 500;

  function dispatch(block) {
    let type = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (id !== null) sessionStorage.setItem(lastIdKey(orderId), id);
    if (!data.length) return;
    let body;
    try { body = JSON.parse(data.join('\n')); } catch { return; }
    onEvent(type, body, id);
  }

  async function once() {
    controller = new AbortController();
    const headers = { Accept: 'text/event-stream' };
    if (auth.signedIn()) headers.Authorization = `Bearer ${auth.tokens.access_token}`;
    const last = sessionStorage.getItem(lastIdKey(orderId));
    if (last) headers['Last-Event-ID'] = last;
    const res = await fetch(`/api/orders/${encodeURIComponent(orderId)}/events`, {
      headers, cache: 'no-store', signal: controller.signal,
    });
    if (res.status === 401) { await refresh(); throw new Error('unauthenticated'); }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    delay = 500;
    onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try { await once(); } catch (e) { /* reconnect below */ }
      if (stopped) break;
      onDown();
      if (isFinal()) break;  // the server ended the stream of a finished order
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();

  return {
    stop() { stopped = true; if (controller) controller.abort(); },
  };
}

// The order as the server has it now (after a reconnect, events may have been missed
// before the stream resumed, e.g. once the server's window for them has passed).
export function readOrder(orderId) {
  return api('GET', `/api/orders/${encodeURIComponent(orderId)}`);
}
