// The health strip: broker, cloud sync lag and backlog, cameras, disk, from /health
// (polled: it is cheap and public) and the cameras' status.
import { el, $ } from './util.js';
import * as shelf from './shelf.js';

function chip(kind, text, title) { return el('span', { class: `chip ${kind}`, title, text }); }

export async function refresh() {
  let h;
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    h = await res.json();
  } catch (e) {
    $('health').replaceChildren(chip('crit', 'store box unreachable'));
    return null;
  }
  const chips = [];
  const m = h.mqtt || {};
  chips.push(!m.enabled ? chip('na', 'broker off') : chip(m.connected ? 'ok' : 'crit', m.connected ? 'broker connected' : 'broker down'));
  const s = h.sync || {};
  if (s.enabled === false) chips.push(chip('na', 'sync off'));
  else chips.push(chip(s.lagging ? 'warn' : 'ok', `sync lag ${Math.round(s.lag_s || 0)}s · backlog ${s.backlog ?? 0}`, s.last_error || ''));
  const cams = shelf.cameras();
  if (cams) {
    const off = cams.filter((c) => c.state === 'offline').length;
    chips.push(chip(off ? 'warn' : 'ok', `cameras ${cams.length - off}/${cams.length} up`));
  } else {
    chips.push(chip('na', 'cameras n/a'));
  }
  const d = h.disk || {};
  if (d.used_ratio !== undefined) {
    chips.push(chip(d.level === 'critical' ? 'crit' : d.level === 'warning' ? 'warn' : 'ok', `disk ${Math.round(d.used_ratio * 100)}%`));
  }
  $('health').replaceChildren(...chips);
  return h;
}

export function start() {
  refresh();
  // Camera status needs a login; refresh it less often than the strip.
  let n = 0;
  return setInterval(() => {
    if (++n % 6 === 0) shelf.load().catch(() => {});
    refresh();
  }, 5000);
}
