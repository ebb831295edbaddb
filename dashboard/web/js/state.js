// Page state lives in the URL fragment, so a view can be shared: #/<page>?p=<product>&start=…

/** Parameters carried from page to page (product, range, filters). */
const GLOBAL = ['p', 'start', 'stop', 'f'];

/** The current route: page name and its parameters. */
export function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const page = (q < 0 ? raw : raw.slice(0, q)) || 'overview';
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { page, params };
}

/**
 * A fragment link to `page`, keeping the global parameters (and, with `keepAll` on the same
 * page, all of them) and applying `set` (null deletes).
 */
export function href(page, set = {}, keepAll = false) {
  const { page: current, params } = route();
  const next = new URLSearchParams();
  for (const [k, v] of params) {
    if ((keepAll && page === current) || GLOBAL.includes(k)) next.set(k, v);
  }
  for (const [k, v] of Object.entries(set)) {
    if (v === null || v === undefined || v === '') next.delete(k);
    else next.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  const qs = next.toString();
  return `#/${page}${qs ? `?${qs}` : ''}`;
}

/** Changes parameters of the current page (a new history entry, so Back works). */
export function update(set) {
  location.hash = href(route().page, set, true);
}

/** A parameter parsed as JSON, or `fallback` when absent or malformed. */
export function jsonParam(params, name, fallback) {
  const v = params.get(name);
  if (!v) return fallback;
  try {
    return JSON.parse(v);
  } catch {
    return fallback;
  }
}

/** The report range of the URL: API date expressions (`NOW-29`, `2024-03-01`). */
export function range(params) {
  return { startDate: params.get('start') || 'NOW-29', stopDate: params.get('stop') || 'NOW' };
}

/** Global filters of the URL (reporting-api §3). */
export function filters(params) {
  const f = jsonParam(params, 'f', {});
  return f && typeof f === 'object' && !Array.isArray(f) ? f : {};
}

/** Adds `globalFilters` to a request body when any filter is set. */
export function withFilters(params, body) {
  const f = filters(params);
  return Object.keys(f).length ? { ...body, globalFilters: f } : body;
}

/** Today (UTC) as YYYY-MM-DD, shifted by `days`. */
export function utcDay(days = 0) {
  const d = new Date(Date.now() + days * 86400000);
  return d.toISOString().slice(0, 10);
}

/** Resolves `NOW-n` to a calendar day (UTC), for date inputs. */
export function resolveDate(expr) {
  const m = /^NOW(?:-(\d+))?$/i.exec(expr || '');
  return m ? utcDay(-Number(m[1] || 0)) : expr;
}

// The login answer (account, visible products and roles). It is not a credential: the
// cookies are HttpOnly, and an expired session makes the next call answer 401.
const KEY = 'usagi.session';

/** The stored login answer, or null. */
export function session() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

export function saveSession(login) {
  localStorage.setItem(KEY, JSON.stringify(login));
}

export function clearSession() {
  localStorage.removeItem(KEY);
}

/** The product of the URL, else the login's current product, else the first visible one. */
export function product(params) {
  const s = session();
  const products = (s && s.products) || {};
  const p = params.get('p');
  if (p && products[p]) return p;
  const current = s && s.userSettings && s.userSettings.currentProduct;
  if (current && products[current]) return current;
  return Object.keys(products).sort()[0] || null;
}

/** The signed-in user's role on a product (`viewer`, `editor`, `admin`). */
export function role(productId) {
  const s = session();
  return (s && s.products && s.products[productId] && s.products[productId].role) || 'viewer';
}

export const canEdit = (productId) => ['editor', 'admin'].includes(role(productId));
