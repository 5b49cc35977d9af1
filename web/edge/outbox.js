// The handheld's outbox: every action a picker takes (pick, short, pack, receive, move,
// count) is queued on the device first and sent to the edge in order, one at a time.
// Wi-Fi in an aisle drops for seconds at a time; while the edge does not answer the
// actions wait here (kept in localStorage, so a reload loses nothing) and go out when it
// does. Scans carry their scan_id and the edge ignores a scan_id it has already applied,
// so an action resent after a reply was lost does nothing twice.
import { api, session } from './api.js';

const state = { items: [], sending: false, offline: false, retryTimer: null, backoff: 500, seq: 0 };
const listeners = [];
let onResult = () => {};
export const stats = { sent: 0, retried: 0, refused: 0 };

const key = () => `shopeasy.outbox.${session.user || '-'}`;

function save() {
  try { localStorage.setItem(key(), JSON.stringify(state.items)); } catch (e) { /* storage full: memory only */ }
}

function notify() {
  for (const fn of listeners) fn(status());
}

export function status() {
  return { waiting: state.items.length, offline: state.offline, sending: state.sending, labels: state.items.map((i) => i.label) };
}

export function onChange(fn) { listeners.push(fn); }
// fn(item, response, error) for every action the edge answered: error is the ApiError of
// a refusal (the action is then dropped: sending it again would be refused again).
export function onAnswer(fn) { onResult = fn; }

// A fresh id for a scan: unique per device and never reused, so the edge's idempotency
// tells a resend from a new scan.
export function newScanId() {
  let device = localStorage.getItem('shopeasy.device');
  if (!device) {
    device = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
    localStorage.setItem('shopeasy.device', device);
  }
  state.seq++;
  return `hh-${device}-${Date.now().toString(36)}-${state.seq}`;
}

export function deviceId() {
  newScanId();
  return `hh-${localStorage.getItem('shopeasy.device')}`;
}

// Reads the queue this user left behind (a reload, or a session that ended mid-order).
export function restore() {
  try { state.items = JSON.parse(localStorage.getItem(key()) || '[]'); } catch (e) { state.items = []; }
  notify();
  pump();
}

export function enqueue(item) {
  state.items.push({ ...item, queuedAt: Date.now() });
  save();
  notify();
  pump();
}

export function waiting(kind) { return state.items.filter((i) => !kind || i.kind === kind); }

function retryLater() {
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(pump, state.backoff);
  state.backoff = Math.min(state.backoff * 2, 2000);
}

// Sends the queue in order. A network failure or a 5xx/429 keeps the action at the head
// and retries; any other answer (success or refusal) removes it.
export async function pump() {
  if (state.sending || !session.token) return;
  state.sending = true;
  notify();
  try {
    while (state.items.length) {
      const item = state.items[0];
      let response = null;
      let error = null;
      try {
        // An action whose answer was lost is sent again: scans by their scan_id, and
        // packs and short picks are checked against the order (handheld.js).
        response = await api(item.method, item.path, item.body, { timeoutMs: 8000 });
      } catch (e) {
        if (e.status === 0 || e.status >= 500 || e.status === 429 || e.status === 401) {
          // 401: the session ended; the queue waits for the next sign-in.
          if (!state.offline) { state.offline = true; notify(); }
          stats.retried++;
          if (e.status !== 401) retryLater();
          return;
        }
        error = e;
      }
      state.items.shift();
      save();
      state.offline = false;
      state.backoff = 500;
      if (error) stats.refused++; else stats.sent++;
      notify();
      try { onResult(item, response, error); } catch (e) { console.error('outbox answer handler', e); }
    }
  } finally {
    state.sending = false;
    notify();
  }
}

window.addEventListener('online', () => pump());
