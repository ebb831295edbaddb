// DOM helpers shared by every page: elements, cards, tables, CSV and file downloads.

/** Creates an element: `h('a', {href: '#'}, 'text', child)`. `on*` attributes add listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Formats a number for display (integers with thousands separators). */
export function fmt(v) {
  if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** RFC 4180 CSV text of rows (arrays). */
export function csv(rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Saves a Blob or data URL under `name`. */
export function download(name, data) {
  const url = typeof data === 'string' ? data : URL.createObjectURL(data);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  if (typeof data !== 'string') setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** An API or network error as an alert, with the server's `reason`. */
export function errorBox(err) {
  const reason = (err && (err.reason || err.message)) || String(err);
  const status = err && err.status ? `${err.status}: ` : '';
  return h('p', { class: 'error', role: 'alert' }, status, reason);
}

/**
 * A titled card with CSV (and, for charts, PNG) download buttons. `setRows` gives the data the
 * CSV button saves and the accessible data table shows.
 */
export function card(parent, title, { id, wide, extra, noCsv } = {}) {
  const body = h('div', { class: 'card-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const actions = h('div', { class: 'card-actions' });
  const el = h(
    'section',
    { class: `card${wide ? ' wide' : ''}`, 'data-card': id || slug(title), 'aria-busy': 'true' },
    h('header', {}, h('h2', {}, title), extra || null, actions),
    body,
  );
  parent.append(el);
  let rows = null;
  const csvButton = h('button', {
    type: 'button',
    class: 'small',
    disabled: true,
    title: `Download the data of "${title}" as CSV`,
    onclick: () => rows && download(`${slug(title)}.csv`, new Blob([csv(rows)], { type: 'text/csv' })),
  }, 'CSV');
  if (!noCsv) actions.append(csvButton);
  return {
    el,
    body,
    actions,
    setRows(r) {
      rows = r;
      csvButton.disabled = !r;
    },
    clear() {
      body.replaceChildren();
      el.removeAttribute('aria-busy');
    },
    fail(err) {
      body.replaceChildren(errorBox(err));
      el.removeAttribute('aria-busy');
      el.dataset.state = 'error';
    },
    done() {
      el.removeAttribute('aria-busy');
      el.dataset.state = 'ready';
    },
  };
}

/**
 * A table from a header row and data rows; cells may be nodes. `rowAttrs(row, i)` adds
 * attributes (a class for highlighting).
 */
export function table(header, rows, { rowAttrs, caption, testid } = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-table': testid || null },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, header.map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        rows.map((r, i) =>
          h('tr', rowAttrs ? rowAttrs(r, i) : {}, r.map((c) => h('td', { class: typeof c === 'number' ? 'num' : null }, c instanceof Node ? c : fmt(c)))),
        ),
      ),
    ),
  );
}

/** The plain-text value of a table cell (for CSV of rows holding nodes). */
export const text = (c) => (c instanceof Node ? c.textContent : c);

/** A card holding a table, with the CSV of its rows. */
export function tableCard(parent, title, header, rows, opts = {}) {
  const c = card(parent, title, opts);
  c.clear();
  c.body.append(rows.length ? table(header, rows, opts) : h('p', { class: 'muted' }, opts.empty || 'No data.'));
  c.setRows([header, ...rows.map((r) => r.map(text))]);
  c.done();
  return c;
}

/** A labelled form control. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', { class: 'muted' }, hint) : null);
}

/** A select from `[value, label]` pairs (or plain values). */
export function select(options, value, attrs = {}) {
  return h(
    'select',
    attrs,
    options.map((o) => {
      const [v, l] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: String(v) === String(value) }, l);
    }),
  );
}

/** A group of toggle buttons; the pressed one is `value`. */
export function segmented(label, options, value, onChange) {
  return h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': label },
    options.map(([v, l]) =>
      h('button', { type: 'button', 'aria-pressed': String(v === value), 'data-value': v, onclick: () => onChange(v) }, l),
    ),
  );
}
