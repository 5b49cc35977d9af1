// Scanning on the handheld: a hardware scanner in keyboard-wedge mode (keystrokes ending
// in Enter, taken while no input field has focus), the device camera (frames sent to the
// edge, which decodes them with its own decoder chain), and the beep and buzz that
// confirm or refuse every scan. Plus the little GS1 reading the screens need to show a
// lot and expiry before the edge answers.
import { session, ApiError } from './api.js';

export const stats = { ok: 0, error: 0, vibrations: 0, wedgeScans: 0, cameraFrames: 0, cameraCodes: 0 };

// ---------------------------------------------------------------- keyboard wedge

const FIELD = new Set(['INPUT', 'TEXTAREA', 'SELECT']);
let wedgeHandler = null;
let buffer = '';
let lastKeyAt = 0;

function isField(node) {
  return node && (FIELD.has(node.tagName) || node.isContentEditable);
}

// Scanners type a whole code within a few tens of milliseconds; a buffer left idle for
// a second is a stray key, not the start of a code.
function onKey(ev) {
  if (!wedgeHandler || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  if (isField(ev.target) || isField(document.activeElement)) return;
  const now = performance.now();
  if (now - lastKeyAt > 1000) buffer = '';
  lastKeyAt = now;
  if (ev.key === 'Enter') {
    if (!buffer) return;
    // Enter would otherwise press whatever button was tapped last.
    ev.preventDefault();
    const code = buffer;
    buffer = '';
    stats.wedgeScans++;
    // The event's own time stamp: when the key arrived, not when this handler ran.
    wedgeHandler(code, { source: 'wedge', at: ev.timeStamp || now });
    return;
  }
  if (ev.key.length === 1) {
    buffer += ev.key;
    ev.preventDefault();
  }
}

export function startWedge(handler) {
  wedgeHandler = handler;
  window.addEventListener('keydown', onKey, true);
}

export function stopWedge() {
  wedgeHandler = null;
  window.removeEventListener('keydown', onKey, true);
}

// ---------------------------------------------------------------- sound and vibration

let audio = null;
function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!audio) audio = new Ctx();
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  return audio;
}
// Browsers allow sound only after a gesture on the page (the sign-in counts); a tap
// later unlocks it otherwise. Opened ahead of the first scan, which must not wait for it.
export function prepareAudio() {
  try { audioContext(); } catch (e) { /* no sound on this device */ }
  window.addEventListener('pointerdown', () => audioContext(), { once: true, capture: true });
}

function tone(ctx, freq, start, length) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = freq;
  osc.type = 'square';
  gain.gain.setValueAtTime(0.15, ctx.currentTime + start);
  gain.gain.setValueAtTime(0, ctx.currentTime + start + length);
  osc.connect(gain).connect(ctx.destination);
  osc.start(ctx.currentTime + start);
  osc.stop(ctx.currentTime + start + length + 0.01);
}

// One high beep and a short buzz for a good scan; two low beeps and a long double buzz
// for a refused one, so the result is clear without looking at the screen.
export function feedback(ok) {
  if (ok) stats.ok++; else stats.error++;
  try {
    const ctx = audioContext();
    if (ctx) {
      if (ok) tone(ctx, 1760, 0, 0.08);
      else { tone(ctx, 330, 0, 0.15); tone(ctx, 330, 0.22, 0.15); }
    }
  } catch (e) { /* no sound on this device */ }
  if (navigator.vibrate && navigator.vibrate(ok ? 40 : [120, 80, 120])) stats.vibrations++;
}

// ---------------------------------------------------------------- codes

// "YYMMDD" of AI (17) as "YYYY-MM-DD"; day 00 means the last day of the month.
function gs1Date(v) {
  if (!/^\d{6}$/.test(v)) return '';
  const y = 2000 + Number(v.slice(0, 2));
  const m = Number(v.slice(2, 4));
  let d = Number(v.slice(4, 6));
  if (m < 1 || m > 12) return '';
  if (d === 0) d = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

const FIXED = { '00': 18, '01': 14, '02': 14, 11: 6, 13: 6, 15: 6, 17: 6 };
const VARIABLE = new Set(['10', '21', '30', '37']);

// The GTIN, lot and expiry of a GS1 element string (bracketed, or with an AIM prefix and
// GS separators); null for anything else. The edge parses the code again and is the
// judge; this only lets the screen show the lot and expiry at once.
export function parseGs1(code) {
  const out = {};
  if (code.startsWith('(')) {
    const re = /\((\d{2,4})\)([^(]*)/g;
    let m;
    while ((m = re.exec(code)) !== null) out[m[1]] = m[2];
  } else {
    let s = code;
    if (/^\][CdQe][0-9]/.test(s)) s = s.slice(3);
    else if (!s.includes('\x1d')) return null;
    while (s.length >= 2) {
      const ai = s.slice(0, 2);
      if (FIXED[ai]) { out[ai] = s.slice(2, 2 + FIXED[ai]); s = s.slice(2 + FIXED[ai]); }
      else if (VARIABLE.has(ai)) {
        const end = s.indexOf('\x1d');
        out[ai] = end < 0 ? s.slice(2) : s.slice(2, end);
        s = end < 0 ? '' : s.slice(end + 1);
      } else break;
      if (s.startsWith('\x1d')) s = s.slice(1);
    }
  }
  if (!out['01']) return null;
  return { gtin: out['01'], lot: out['10'] || '', expiry: out['17'] ? gs1Date(out['17']) : '' };
}

// The 14-digit GTIN a product code stands for, or '' when the page cannot tell (UPC-E,
// SKU labels): those are left to the edge.
export function gtin14(code) {
  const gs1 = parseGs1(code);
  if (gs1) return gs1.gtin;
  if (/^\d{12,14}$/.test(code) || /^\d{8}$/.test(code)) return code.padStart(14, '0');
  return '';
}

// ---------------------------------------------------------------- camera

const camera = { stream: null, timer: null, busy: false, last: '', lastAt: 0 };

// Sends one frame to the edge and returns the codes it read.
export async function decodeFrame(blob) {
  let res;
  try {
    res = await fetch('/api/scan-frames', {
      method: 'POST',
      headers: { Authorization: `Bearer ${session.token}`, 'Content-Type': blob.type || 'image/jpeg' },
      credentials: 'same-origin',
      cache: 'no-store',
      body: blob,
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'unavailable', message: 'the store box does not answer' } });
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return (data && data.codes) || [];
}

// Starts the camera in `video`, sending a frame about three times a second; each code
// read is handed to onCode once (the same code again only after two seconds).
export async function startCamera(video, onCode, onProblem) {
  stopCamera();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('this browser gives no camera access (it needs https or localhost)');
  }
  camera.stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false,
  });
  video.srcObject = camera.stream;
  await video.play().catch(() => {});
  const canvas = document.createElement('canvas');
  camera.timer = setInterval(async () => {
    if (camera.busy || !video.videoWidth) return;
    camera.busy = true;
    try {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.85));
      if (!blob) return;
      stats.cameraFrames++;
      const codes = await decodeFrame(blob);
      for (const c of codes) {
        const now = performance.now();
        // scan_code is the form a hardware scanner sends (what the scan routes read).
        const code = c.scan_code || c.text;
        if (code === camera.last && now - camera.lastAt < 2000) continue;
        camera.last = code;
        camera.lastAt = now;
        stats.cameraCodes++;
        onCode(code, { source: 'camera', at: now });
        break;
      }
    } catch (e) {
      onProblem(e);
    } finally {
      camera.busy = false;
    }
  }, 300);
}

export function stopCamera() {
  clearInterval(camera.timer);
  camera.timer = null;
  if (camera.stream) for (const t of camera.stream.getTracks()) t.stop();
  camera.stream = null;
}

export function cameraOn() { return camera.stream !== null; }
