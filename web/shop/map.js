// A map drawn here as SVG, nothing fetched (no tiles): the served area's circles, the
// stores, the delivery address and the runner, on a local flat projection in metres
// (accurate enough over a city's few kilometres). A 1 km grid and a scale bar give the
// distances. Clicking (or arrows + Enter on the focused map) picks a point.
import { svg } from './util.js';

const M_PER_DEG = 111320;

export function createMap(container, { onPick = null, label = '' } = {}) {
  let origin = { lat: 0, lon: 0 };
  let cosLat = 1;
  let view = { x: -1000, y: -1000, w: 2000, h: 2000 };
  let stores = [];
  let address = null;
  let runner = null;
  let cursor = null;  // keyboard cursor {lat, lon}

  const root = svg('svg', { class: 'map-svg', viewBox: '0 0 1 1', preserveAspectRatio: 'xMidYMid meet' });
  if (label) root.setAttribute('aria-hidden', 'true');
  const grid = svg('g', { class: 'grid' });
  const areas = svg('g', { class: 'areas' });
  const marks = svg('g', { class: 'marks' });
  const addr = svg('g', { class: 'address', visibility: 'hidden' });
  addr.append(svg('path', { d: 'M0 0 L-60 -120 A70 70 0 1 1 60 -120 Z' }), svg('circle', { cx: 0, cy: -150, r: 28, class: 'hole' }));
  const rider = svg('g', { class: 'runner', visibility: 'hidden', 'data-testid': 'runner' });
  rider.append(svg('circle', { r: 90 }), svg('text', { y: 35, 'text-anchor': 'middle', text: 'R' }));
  const cross = svg('g', { class: 'cursor', visibility: 'hidden' });
  cross.append(svg('circle', { r: 80 }), svg('path', { d: 'M-140 0H140M0 -140V140' }));
  const scale = svg('g', { class: 'scale' });
  root.append(grid, areas, marks, addr, rider, cross, scale);
  container.replaceChildren(root);

  const toXY = (p) => ({ x: (p.lon - origin.lon) * cosLat * M_PER_DEG, y: -(p.lat - origin.lat) * M_PER_DEG });
  const toLatLon = (x, y) => ({ lat: origin.lat - y / M_PER_DEG, lon: origin.lon + x / (cosLat * M_PER_DEG) });
  const place = (g, p) => {
    if (!p) { g.setAttribute('visibility', 'hidden'); return; }
    const { x, y } = toXY(p);
    g.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
    g.setAttribute('visibility', 'visible');
  };

  function fit() {
    const pts = [];
    for (const s of stores) {
      const r = s.service_radius_m || 0;
      const c = toXY(s);
      pts.push({ x: c.x - r, y: c.y - r }, { x: c.x + r, y: c.y + r });
    }
    for (const p of [address, runner]) if (p) { const c = toXY(p); pts.push({ x: c.x - 300, y: c.y - 300 }, { x: c.x + 300, y: c.y + 300 }); }
    if (!pts.length) return;
    const minX = Math.min(...pts.map((p) => p.x)); const maxX = Math.max(...pts.map((p) => p.x));
    const minY = Math.min(...pts.map((p) => p.y)); const maxY = Math.max(...pts.map((p) => p.y));
    const pad = Math.max(maxX - minX, maxY - minY) * 0.05 + 100;
    view = { x: minX - pad, y: minY - pad, w: maxX - minX + 2 * pad, h: maxY - minY + 2 * pad };
    root.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
    drawGrid();
  }

  function drawGrid() {
    const lines = [];
    const step = 1000;
    for (let x = Math.ceil(view.x / step) * step; x < view.x + view.w; x += step) lines.push(svg('line', { x1: x, x2: x, y1: view.y, y2: view.y + view.h }));
    for (let y = Math.ceil(view.y / step) * step; y < view.y + view.h; y += step) lines.push(svg('line', { y1: y, y2: y, x1: view.x, x2: view.x + view.w }));
    grid.replaceChildren(svg('rect', { x: view.x, y: view.y, width: view.w, height: view.h, class: 'land' }), ...lines);
    const km = view.w > 6000 ? 2000 : 1000;
    const x0 = view.x + view.w * 0.04;
    const y0 = view.y + view.h * 0.95;
    scale.replaceChildren(
      svg('path', { d: `M${x0} ${y0 - 60}V${y0}H${x0 + km}V${y0 - 60}` }),
      svg('text', { x: x0 + km + 60, y: y0, text: `${km / 1000} km` }));
  }

  function drawStores() {
    areas.replaceChildren(...stores.map((s) => {
      const c = toXY(s);
      return svg('circle', { cx: c.x, cy: c.y, r: s.service_radius_m, class: s.online && s.open ? 'area' : 'area off' });
    }));
    marks.replaceChildren(...stores.map((s) => {
      const c = toXY(s);
      const g = svg('g', { class: 'store', transform: `translate(${c.x} ${c.y})`, 'data-store': s.id });
      g.append(svg('rect', { x: -90, y: -90, width: 180, height: 180, rx: 30 }),
        svg('text', { y: 250, 'text-anchor': 'middle', text: s.name }));
      return g;
    }));
  }

  root.addEventListener('click', (ev) => {
    if (!onPick) return;
    const m = root.getScreenCTM();
    if (!m) return;
    const pt = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
    onPick(toLatLon(pt.x, pt.y));
  });
  container.addEventListener('keydown', (ev) => {
    if (!onPick) return;
    const stepM = view.w / 40;
    const moves = { ArrowLeft: [-stepM, 0], ArrowRight: [stepM, 0], ArrowUp: [0, -stepM], ArrowDown: [0, stepM] };
    if (!cursor) cursor = address || (stores[0] ? { lat: stores[0].lat, lon: stores[0].lon } : null);
    if (!cursor) return;
    if (moves[ev.key]) {
      ev.preventDefault();
      const c = toXY(cursor);
      cursor = toLatLon(c.x + moves[ev.key][0], c.y + moves[ev.key][1]);
      place(cross, cursor);
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      onPick({ ...cursor });
    }
  });

  return {
    setStores(list) {
      stores = list.slice();
      if (stores.length) {
        origin = { lat: stores.reduce((a, s) => a + s.lat, 0) / stores.length, lon: stores.reduce((a, s) => a + s.lon, 0) / stores.length };
        cosLat = Math.cos((origin.lat * Math.PI) / 180);
      }
      drawStores();
      fit();
      place(addr, address);
      place(rider, runner);
    },
    setAddress(p) { address = p; place(addr, p); },
    setRunner(p) {
      runner = p;
      place(rider, p);
      if (p) { rider.dataset.lat = p.lat; rider.dataset.lon = p.lon; rider.dataset.moves = String(Number(rider.dataset.moves || 0) + 1); }
    },
    refit: fit,
  };
}

// Distance in metres between two points (haversine).
export function distanceM(a, b) {
  const r = 6371000;
  const rad = (d) => (d * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';
// The geohash of a point (the cloud's routes take one for a place).
export function geohash(lat, lon, precision = 7) {
  let latR = [-90, 90];
  let lonR = [-180, 180];
  let out = '';
  let bits = 0;
  let n = 0;
  let even = true;
  while (out.length < precision) {
    const r = even ? lonR : latR;
    const v = even ? lon : lat;
    const mid = (r[0] + r[1]) / 2;
    n <<= 1;
    if (v >= mid) { n |= 1; r[0] = mid; } else { r[1] = mid; }
    even = !even;
    if (++bits === 5) { out += BASE32[n]; bits = 0; n = 0; }
  }
  return out;
}
