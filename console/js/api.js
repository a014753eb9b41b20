// The API client: same origin, bearer tokens, RFC 9457 problems.
//
// Tokens (docs/console.md, "Tokens"): the access and id tokens live in memory and in this tab's
// sessionStorage (a reload keeps the session, closing the tab ends it); the refresh token in
// sessionStorage only, never localStorage. Nothing is kept in cookies.

const SESSION_KEY = "scelle.session";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;           // 0: no answer (offline, connection lost)
    this.problem = problem || {};
  }
  get offline() { return this.status === 0; }
  // [{field, detail}]: every field at fault (422 lists them all under `errors`).
  get fieldErrors() {
    const p = this.problem;
    if (Array.isArray(p.errors) && p.errors.length) return p.errors;
    return p.field ? [{ field: p.field, detail: p.detail }] : [];
  }
}

let session = null;
try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"); } catch { session = null; }
const listeners = new Set();

export function onSessionChange(fn) { listeners.add(fn); }
export function signedIn() { return Boolean(session && session.access_token); }
export function currentSession() { return session; }

function store(next) {
  session = next;
  if (next) sessionStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(SESSION_KEY);
  listeners.forEach((fn) => fn(session));
}

async function raw(method, path, { body, headers = {}, token } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (token) init.headers.Authorization = `Bearer ${token}`;
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, { title: "offline", detail: "no answer from the server" });
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    err.retryAfter = Number(resp.headers.get("Retry-After")) || null;
    throw err;
  }
  return data;
}

async function refresh() {
  if (!session || !session.refresh_token) return false;
  try {
    const out = await raw("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh_token } });
    store({ ...session, access_token: out.access_token, id_token: out.id_token,
            expires_at: Date.now() + out.expires_in * 1000 });
    return true;
  } catch (err) {
    if (err.offline) throw err;
    store(null);
    return false;
  }
}

// A call with the session's token; a 401 refreshes the tokens once and retries.
export async function api(method, path, options = {}) {
  if (options.auth === false) return raw(method, path, options);
  if (session && session.expires_at && session.expires_at - Date.now() < 60_000) await refresh();
  try {
    return await raw(method, path, { ...options, token: session && session.access_token });
  } catch (err) {
    if (err.status === 401 && session && (await refresh())) {
      return raw(method, path, { ...options, token: session.access_token });
    }
    if (err.status === 401) store(null);
    throw err;
  }
}

export async function signIn(email, password) {
  const out = await raw("POST", "/v1/auth/signin", { body: { email, password } });
  store({ access_token: out.access_token, id_token: out.id_token, refresh_token: out.refresh_token,
          expires_at: Date.now() + out.expires_in * 1000, email });
  return out;
}

export async function signOut() {
  const token = session && session.access_token;
  store(null);
  if (token) {
    try { await raw("POST", "/v1/auth/signout", { token }); } catch { /* the session is gone here anyway */ }
  }
}

export function query(params) {
  const q = new URLSearchParams();
  Object.entries(params).forEach(([k, v]) => { if (v !== undefined && v !== null && v !== "") q.set(k, v); });
  const s = q.toString();
  return s ? `?${s}` : "";
}
