// The /v3 client: cookie session, JSON, error reasons, and the server's per-session limits.

/** An error answer of the API: `reason` is the server's sentence (reporting-api §1.9). */
export class ApiError extends Error {
  constructor(httpStatus, body) {
    const reason = (body && body.reason) || `HTTP ${httpStatus}`;
    super(reason);
    this.httpStatus = httpStatus;
    this.status = body && body.status;
    this.reason = reason;
  }
}

// The server runs at most 4 reports at once per session (§1.12); three leaves room for
// a keystroke-driven request (a property-value lookup) while a page loads.
const MAX_RUNNING = 3;
let running = 0;
const waiting = [];

async function acquire() {
  if (running < MAX_RUNNING) {
    running += 1;
    return;
  }
  await new Promise((resolve) => waiting.push(resolve));
}

function release() {
  const next = waiting.shift();
  if (next) next();
  else running -= 1;
}

const HEADERS = { 'RUI-Client': 'usagi-dashboard', 'RUI-Client-Version': '1' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Counts requests, so tests and the status line can check "one request per chart". */
export const stats = { requests: 0 };

async function send(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { ...HEADERS } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt += 1) {
    stats.requests += 1;
    const r = await fetch(path, init);
    if (r.status === 429 && attempt < 4) {
      const wait = Math.min(Number(r.headers.get('Retry-After')) || 1, 10);
      await sleep(wait * 1000);
      continue;
    }
    return r;
  }
}

async function decode(r) {
  if (r.status === 204) return null;
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { reason: text.slice(0, 200) };
  }
  if (!r.ok) {
    const err = new ApiError(r.status, body);
    if (r.status === 401) window.dispatchEvent(new CustomEvent('usagi:unauthenticated', { detail: err }));
    throw err;
  }
  return body;
}

/** Calls a `/v3` endpoint; `body` undefined sends none. Resolves to the decoded JSON. */
export async function call(method, path, body) {
  await acquire();
  try {
    return await decode(await send(method, path, body));
  } finally {
    release();
  }
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const put = (path, body) => call('PUT', path, body);

/**
 * Logs in. The first answer may be 401 "Cookie Missing" (or "Cookie Invalid"), which sets a
 * fresh RUI-Csrf cookie; the identical request is then repeated once (reporting-api §1.4).
 */
export async function login(userName, password) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const r = await send('POST', '/v3/auth/web', { userName, password });
    if (r.ok) return r.json();
    const body = await r.json().catch(() => null);
    const reason = body && body.reason;
    if (r.status === 401 && attempt === 0 && (reason === 'Cookie Missing' || reason === 'Cookie Invalid')) continue;
    throw new ApiError(r.status, body);
  }
  throw new ApiError(401, { reason: 'Cookie Missing' });
}

/** Ends this session (204 whatever its state). */
export async function logout() {
  const r = await send('POST', '/v3/auth/logout', {});
  if (!r.ok && r.status !== 204) throw new ApiError(r.status, await r.json().catch(() => null));
}
