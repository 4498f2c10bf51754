// The HTTP API as the console calls it: the same routes, the token of
// the signed-in user, the envelope {"code","data","msg"} unwrapped.

// The token is kept in sessionStorage: it lasts while the tab is open
// and is not shared with other tabs or kept after the browser closes.
const TOKEN = 'taskrunner.token';

export function token() { return sessionStorage.getItem(TOKEN) || ''; }
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN, t); else sessionStorage.removeItem(TOKEN);
}

export class ApiError extends Error {
  constructor(status, msg, data) {
    super(msg || `HTTP ${status}`);
    this.status = status;
    this.data = data;
  }
  // fields is {field: message} from data.errors of a refused task.
  get fields() {
    const out = {};
    for (const e of (this.data && this.data.errors) || []) out[e.field] = e.message;
    return out;
  }
}

// call sends method path (with query, an object of non-empty values) and
// body (a value to send as JSON) and returns {data, code, msg, etag}.
export async function call(method, path, { query, body, headers } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const h = { Authorization: 'Bearer ' + token(), ...(headers || {}) };
  const init = { method, headers: h };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let env;
  try { env = await res.json(); } catch { env = { code: res.status, msg: res.statusText }; }
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new CustomEvent('unauthorized'));
    throw new ApiError(res.status, env.msg, env.data);
  }
  return { data: env.data, code: env.code, msg: env.msg, etag: res.headers.get('ETag'), status: res.status };
}

export const get = (path, query) => call('GET', path, { query });
