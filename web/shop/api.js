// The cloud's customer API as the app uses it. The access token (a short-lived JWT) and
// the refresh token live in localStorage, so a reload or a reopened app stays signed in;
// a 401 refreshes once (rotating the refresh token) and retries. Errors come back as
// ApiError with the server's {"error": {...}} fields.

const TOKENS_KEY = 'shopeasy.shop.tokens';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || (status ? `HTTP ${status}` : 'the service does not answer'));
    this.status = status;
    this.code = err.code || '';
    this.field = err.field || '';
    this.body = body || null;
  }
}

function loadTokens() {
  try { return JSON.parse(localStorage.getItem(TOKENS_KEY)) || null; } catch { return null; }
}

export const auth = {
  tokens: loadTokens(),
  signedIn() { return !!(this.tokens && this.tokens.access_token); },
  set(t) {
    this.tokens = t ? { access_token: t.access_token, refresh_token: t.refresh_token } : null;
    if (t) localStorage.setItem(TOKENS_KEY, JSON.stringify(this.tokens));
    else localStorage.removeItem(TOKENS_KEY);
  },
};

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

// Told true or false as calls reach the service or fail to (no network, or the cloud not
// answering), so the page can say it is offline.
let onReachable = () => {};
export function whenReachabilityChanges(fn) { onReachable = fn; }

// One refresh at a time: concurrent 401s wait for the same rotation (a second rotation
// with the old refresh token would revoke the whole family).
let refreshing = null;
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const rt = auth.tokens && auth.tokens.refresh_token;
      if (!rt) return false;
      const res = await fetch('/api/auth/refresh', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: rt }), cache: 'no-store',
      }).catch(() => null);
      onReachable(!!res);
      if (!res) return null;  // unreachable: keep the tokens, try later
      if (!res.ok) { auth.set(null); return false; }
      auth.set(await res.json());
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

export async function api(method, path, body, { headers = {}, retried = false, signal } = {}) {
  const h = { ...headers };
  if (auth.signedIn()) h.Authorization = `Bearer ${auth.tokens.access_token}`;
  const init = { method, headers: h, cache: 'no-store', signal };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    onReachable(false);
    throw new ApiError(0, null);
  }
  onReachable(true);
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json().catch(() => null) : null;
  if (res.status === 401 && auth.signedIn() && !retried) {
    const ok = await refresh();
    if (ok) return api(method, path, body, { headers, retried: true, signal });
    if (ok === false) onSignedOut();
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function requestCode(phone) {
  return api('POST', '/api/auth/otp', { phone });
}

export async function verify(phone, code) {
  const r = await api('POST', '/api/auth/verify', { phone, code });
  auth.set(r);
  return r;
}

export async function signOut() {
  const rt = auth.tokens && auth.tokens.refresh_token;
  auth.set(null);
  if (rt) await api('POST', '/api/auth/logout', { refresh_token: rt }).catch(() => {});
}

// Deletes the signed-in customer's account (DELETE /api/me). The server refuses with 409
// while an order is open; on success the tokens are dropped here too (the server has
// already made them useless).
export async function deleteAccount() {
  const r = await api('DELETE', '/api/me');
  auth.set(null);
  return r;
}
