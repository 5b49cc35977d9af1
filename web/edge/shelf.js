// Shelf scans: each camera's latest annotated image with its slot states, refreshed
// when the camera reports a new scan.
import { api, apiBlob } from './api.js';
import { el, $, fmtTime } from './util.js';
import * as live from './live.js';

const state = { cameras: new Map(), urls: new Map(), available: null, visible: false };

function slotChips(summary) {
  if (!summary || typeof summary !== 'object') return [];
  return Object.entries(summary).filter(([, v]) => typeof v === 'number').map(([k, v]) => el('span', { text: `${k.replaceAll('_', ' ')} ${v}` }));
}

function card(c) {
  const img = el('img', { alt: `Latest annotated shelf image from ${c.id}`, dataset: { camera: c.id } });
  const url = state.urls.get(c.id);
  if (url) img.src = url;
  return el('div', { class: `camera ${c.state === 'offline' ? 'offline' : ''}`, dataset: { camera: c.id } },
    el('h3', { text: `${c.id} · ${c.state}` }),
    img,
    el('div', { class: 'slots' }, ...slotChips(c.latest && c.latest.summary)),
    el('div', { class: 'muted', text: c.latest ? `scanned ${fmtTime(c.latest.ts_ms)}` : (c.last_error || 'no scan yet') }));
}

function render() {
  const grid = $('shelf-grid');
  if (state.available === false) {
    grid.replaceChildren(el('div', { class: 'na-box', id: 'shelf-na', text: 'Shelf scans not available on this store box' }));
    return;
  }
  grid.replaceChildren(...(state.cameras.size ? [...state.cameras.values()].map(card) : [el('div', { class: 'muted', text: 'No cameras configured' })]));
}

async function loadImage(id) {
  try {
    const blob = await apiBlob(`/api/shelf-scans/${encodeURIComponent(id)}/image`);
    const old = state.urls.get(id);
    state.urls.set(id, URL.createObjectURL(blob));
    if (old) URL.revokeObjectURL(old);  // images are large: never keep the old ones
    const img = document.querySelector(`img[data-camera="${CSS.escape(id)}"]`);
    if (img) img.src = state.urls.get(id);
  } catch (e) { /* no image yet */ }
}

export async function load() {
  try {
    const r = await api('GET', '/api/shelf-scans?limit=1');
    state.available = true;
    state.cameras = new Map(r.cameras.map((c) => [c.id, c]));
  } catch (e) {
    if (e.status === 404) state.available = false; else throw e;
  }
  render();
  if (state.available && state.visible) for (const id of state.cameras.keys()) loadImage(id);
  return state.available ? [...state.cameras.values()] : null;
}

export function cameras() { return state.available ? [...state.cameras.values()] : null; }

export function init() {
  live.on('vision.shelf_scan', (_t, b) => {
    const c = state.cameras.get(b.camera);
    if (!c) return;
    c.latest = { ts_ms: b.ts_ms, registered: b.registered, summary: b.summary };
    c.state = 'online';
    if (state.visible) { render(); loadImage(b.camera); }
  });
  live.on('vision.camera_', (t, b) => {
    const c = state.cameras.get(b.camera);
    if (c) { c.state = t.endsWith('offline') ? 'offline' : 'online'; if (state.visible) render(); }
  });
}

export function shown(visible) {
  state.visible = visible;
  if (visible) load().catch(() => {});
}
