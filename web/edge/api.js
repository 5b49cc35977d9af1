// The edge's HTTP API as the page uses it: the session token (kept in sessionStorage for
// this tab only) goes as a Bearer header on every call; the session cookie set at login
// lets EventSource and <img> GETs through. Errors come back as ApiError with the
// server's {"error": {...}} fields.

const TOKEN_KEY = 'shopeasy.session';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || '';
    this.field = err.field || '';
    // Some refusals carry more next to `error` (a claim: reason and who holds the order).
    this.reason = (body && body.reason) || '';
    this.body = body || null;
  }
}

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  user: '',
  role: '',
  expiresAt: '',
  set(token) {
    this.token = token;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
};

let onUnauthenticated = () => {};
export function whenUnauthenticated(fn) { onUnauthenticated = fn; }

// timeoutMs: give up after this long (as if the box did not answer), for callers that
// retry: a request lost in a Wi-Fi drop can otherwise hang for minutes.
export async function api(method, path, body, { quiet401 = false, timeoutMs = 0 } = {}) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (timeoutMs > 0 && typeof AbortSignal.timeout === 'function') init.signal = AbortSignal.timeout(timeoutMs);
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: { code: 'unavailable', message: 'the store box does not answer' } });
  }
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onUnauthenticated();
    throw new ApiError(res.status, data);
  }
  return data;
}

export async function apiBlob(path) {
  const res = await fetch(path, {
    headers: session.token ? { Authorization: `Bearer ${session.token}` } : {},
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.blob();
}

export async function login(user, password) {
  const r = await api('POST', '/api/session', { user, password }, { quiet401: true });
  session.set(r.token);
  session.user = r.user;
  session.role = r.role;
  session.expiresAt = r.expires_at;
  return r;
}

export async function restore() {
  if (!session.token) return false;
  try {
    const r = await api('GET', '/api/session', undefined, { quiet401: true });
    session.user = r.user;
    session.role = r.role;
    session.expiresAt = r.expires_at;
    return true;
  } catch (e) {
    if (e.status === 401) session.set('');
    throw e;
  }
}

export async function logout() {
  try { await api('DELETE', '/api/session', undefined, { quiet401: true }); } catch (e) { /* gone anyway */ }
  session.set('');
  session.user = session.role = '';
}

const RANK = { viewer: 0, picker: 1, manager: 2, admin: 3 };
// Whether the signed-in role is at least `role` (viewer < picker < manager < admin).
export function atLeast(role) { return (RANK[session.role] ?? -1) >= RANK[role]; }
