// The runner map: the store at the centre, runners and drop-offs placed by their
// distance from it (no map tiles: nothing can be fetched offline), a distance scale,
// trails, battery, and stale or offline runners greyed. SVG, redrawn at most once per
// frame from live runner.updated events.
import { api } from './api.js';
import { el, $, svg, perFrame, fmtAge } from './util.js';
import * as live from './live.js';
import * as orders from './orders.js';

const W = 800;
const H = 600;
const TRAIL_POINTS = 300;
const state = { store: null, runners: new Map(), nodes: new Map(), layers: null };

// Metres east and north of the store (equirectangular: plenty for a few kilometres).
function project(lat, lon) {
  const s = state.store;
  const x = (lon - s.lon) * Math.cos((s.lat * Math.PI) / 180) * 111320;
  const y = (lat - s.lat) * 110540;
  return [x, y];
}

function niceDistance(metres) {
  for (const d of [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]) if (d >= metres) return d;
  return 50000;
}

function fmtDistance(m) { return m >= 1000 ? `${m / 1000} km` : `${m} m`; }

function ensureLayers() {
  if (state.layers) return state.layers;
  const map = $('runner-map');
  const layers = {
    rings: svg('g'), drops: svg('g'), trails: svg('g'), runners: svg('g'), scale: svg('g', { class: 'scale' }),
  };
  map.replaceChildren(layers.rings, layers.drops, layers.trails, layers.runners, layers.scale);
  state.layers = layers;
  return layers;
}

function render() {
  if (!state.store) return;
  const L = ensureLayers();
  // Scale: the farthest runner, trail point or drop-off fits with a margin.
  let far = 250;
  const drops = [];
  for (const o of orders.orders().values()) {
    const d = o.drop || o.delivery || o.customer || o;
    if (typeof d.lat === 'number' && typeof d.lon === 'number') drops.push({ id: o.id ?? o.order_id, ...project(d.lat, d.lon) });
  }
  for (const r of state.runners.values()) {
    for (const [x, y] of r.trail) far = Math.max(far, Math.hypot(x, y));
  }
  for (const d of drops) far = Math.max(far, Math.hypot(d[0], d[1]));
  const pxPerM = (Math.min(W, H) / 2 - 40) / far;
  const cx = W / 2;
  const cy = H / 2;
  const toPx = ([x, y]) => [cx + x * pxPerM, cy - y * pxPerM];

  const ring = niceDistance(far / 2);
  L.rings.replaceChildren(
    ...[1, 2, 3].map((k) => svg('circle', { class: 'ring', cx, cy, r: ring * k * pxPerM })),
    svg('rect', { class: 'store', x: cx - 7, y: cy - 7, width: 14, height: 14, rx: 3 }),
    svg('text', { x: cx + 10, y: cy - 10, text: state.store.name || 'store' }));
  L.drops.replaceChildren(...drops.map((d) => {
    const [x, y] = toPx([d[0], d[1]]);
    return svg('path', { class: 'drop', d: `M${x} ${y - 7}L${x + 6} ${y + 5}L${x - 6} ${y + 5}Z`, 'data-order': d.id });
  }));
  const bar = niceDistance(far / 3);
  const barPx = bar * pxPerM;
  L.scale.replaceChildren(
    svg('line', { x1: 20, y1: H - 20, x2: 20 + barPx, y2: H - 20 }),
    svg('line', { x1: 20, y1: H - 26, x2: 20, y2: H - 14 }),
    svg('line', { x1: 20 + barPx, y1: H - 26, x2: 20 + barPx, y2: H - 14 }),
    svg('text', { x: 24, y: H - 28, text: fmtDistance(bar), 'data-metres': bar }));

  for (const [id, r] of state.runners) {
    let n = state.nodes.get(id);
    if (!n) {
      n = { trail: svg('polyline', { class: 'trail' }), dot: svg('circle', { class: 'runner', r: 7, 'data-runner': id }), label: svg('text') };
      L.trails.append(n.trail);
      L.runners.append(n.dot, n.label);
      state.nodes.set(id, n);
    }
    const presence = r.presence || 'unknown';
    n.trail.setAttribute('class', `trail ${presence}`);
    n.trail.setAttribute('points', r.trail.map((p) => toPx(p).map((v) => v.toFixed(1)).join(',')).join(' '));
    n.dot.setAttribute('class', `runner ${presence}`);
    n.label.setAttribute('class', presence === 'online' ? '' : 'grey');
    if (r.pos) {
      const [x, y] = toPx(r.pos);
      n.dot.setAttribute('cx', x.toFixed(1));
      n.dot.setAttribute('cy', y.toFixed(1));
      n.dot.dataset.lat = r.lat;
      n.dot.dataset.lon = r.lon;
      n.label.setAttribute('x', (x + 10).toFixed(1));
      n.label.setAttribute('y', (y + 4).toFixed(1));
      n.dot.hidden = false;
    } else {
      n.dot.setAttribute('cx', -100);
    }
    n.label.textContent = `${r.name || id}${r.battery_pct !== undefined ? ` ${r.battery_pct}%` : ''}`;
  }
  for (const [id, n] of state.nodes) {
    if (!state.runners.has(id)) { n.trail.remove(); n.dot.remove(); n.label.remove(); state.nodes.delete(id); }
  }
  renderTable();
}
const renderSoon = perFrame(render);

function renderTable() {
  const now = Date.now();
  $('runner-rows').replaceChildren(...[...state.runners.values()].sort((a, b) => a.id.localeCompare(b.id)).map((r) => el('tr', {
    class: r.presence === 'online' ? '' : 'greyed', dataset: { runner: r.id },
  }, el('td', { text: r.name || r.id }), el('td', { text: r.state || '' }), el('td', { text: r.presence || '' }),
  el('td', { class: `battery${r.battery_pct !== undefined && r.battery_pct < 20 ? ' low' : ''}`, text: r.battery_pct !== undefined ? `${r.battery_pct}%` : '' }),
  el('td', { text: r.fix_ms ? fmtAge(now - r.fix_ms) + ' ago' : '' }))));
}

function apply(r, v) {
  for (const k of ['name', 'state', 'presence', 'battery_pct']) if (v[k] !== undefined) r[k] = v[k];
  const lat = v.lat ?? v.fix?.lat;
  const lon = v.lon ?? v.fix?.lon;
  if (typeof lat === 'number' && typeof lon === 'number') {
    r.lat = lat;
    r.lon = lon;
    r.pos = project(lat, lon);
    r.fix_ms = v.received_ts_ms ?? v.fix?.received_ts_ms ?? Date.now();
    const last = r.trail[r.trail.length - 1];
    if (!last || last[0] !== r.pos[0] || last[1] !== r.pos[1]) r.trail.push(r.pos);
    if (r.trail.length > TRAIL_POINTS) r.trail.splice(0, r.trail.length - TRAIL_POINTS);
  }
}

export async function load() {
  if (!state.store) state.store = await api('GET', '/api/store');
  const r = await api('GET', '/api/runners');
  const fresh = new Map();
  for (const v of r.runners) {
    const runner = state.runners.get(v.id) || { id: v.id, trail: [] };
    apply(runner, v);
    fresh.set(v.id, runner);
  }
  state.runners = fresh;
  renderSoon();
  const since = Date.now() - 30 * 60 * 1000;
  await Promise.all([...fresh.values()].map(async (runner) => {
    try {
      const t = await api('GET', `/api/runners/${encodeURIComponent(runner.id)}/trail?since=${since}&limit=${TRAIL_POINTS}`);
      const pts = t.points.map((p) => project(p.lat, p.lon));
      if (runner.pos) pts.push(runner.pos);
      runner.trail = pts.slice(-TRAIL_POINTS);
    } catch (e) { /* a runner without a trail still shows */ }
  }));
  renderSoon();
}

export function init() {
  live.on('runner.updated', (_t, v) => {
    if (!state.store) return;
    const r = state.runners.get(v.id) || { id: v.id, trail: [] };
    apply(r, v);
    state.runners.set(v.id, r);
    renderSoon();
  });
  live.on('runner.presence', (_t, v) => {
    const r = state.runners.get(v.runner_id);
    if (r) { r.presence = v.presence; renderSoon(); }
  });
  live.on('runner.retired', (_t, v) => { state.runners.delete(v.runner_id); renderSoon(); });
  setInterval(renderTable, 5000);
}

export function storeInfo() { return state.store; }
export function shown() { renderSoon(); }
