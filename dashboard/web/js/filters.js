// The filter builder (every global filter of the property catalogue, reporting-api §3) and
// the segmentation-level builder (§4).
import * as api from './api.js';
import { field, h, select } from './ui.js';

const catalogues = new Map();

/** The product's property catalogue, flattened (`productProperties`, cached per product). */
export async function catalogue(product) {
  if (!catalogues.has(product)) {
    const p = api.get(`/v3/meta/productProperties/${product}`).then((r) => r.result.flatMap((g) => g.properties.map((p) => ({ ...p, category: g.category }))));
    catalogues.set(product, p);
    p.catch(() => catalogues.delete(product));
  }
  return catalogues.get(product);
}

const GRANULARITY = { os: ['platform', 'version', 'edition'], geography: ['continent', 'country', 'usState'], gpu: ['vendor', 'model'] };
const FLAGS = ['activated', 'expired', 'blocked', 'allowed'];
const NOT_SEGMENTABLE = new Set(['touchScreen', 'dateInstalled', 'dateLastSeen', 'lifetimeEventUsage', 'reachOutDeliveries']);

/** The names usable as a segmentation level, dotted forms for os, geography and gpu (§4.4). */
export function segmentable(props) {
  return props
    .filter((p) => !NOT_SEGMENTABLE.has(p.name))
    .flatMap((p) => (GRANULARITY[p.name] ? GRANULARITY[p.name].map((g) => ({ ...p, name: `${p.name}.${g}`, friendlyName: `${p.friendlyName} (${g})` })) : [p]));
}

const tri = (v) => select([['', 'any'], ['true', 'yes'], ['false', 'no']], v === undefined ? '' : String(v));
const triValue = (sel) => (sel.value === '' ? undefined : sel.value === 'true');
const list = (s) => s.split(',').map((x) => x.trim()).filter((x) => x.length);

/** A value input that suggests the property's values (`propertyValues`, fetched on first focus). */
function valueInput(product, property, granularity, value) {
  const id = `dl-${Math.random().toString(36).slice(2, 9)}`;
  const input = h('input', { type: 'text', value: value ?? '', list: id, autocomplete: 'off', 'aria-label': 'Value' });
  const dl = h('datalist', { id });
  let loaded = false;
  input.addEventListener('focus', () => {
    if (loaded) return;
    loaded = true;
    const body = granularity ? { property, granularity } : { property };
    api.post(`/v3/meta/propertyValues/${product}`, body).then(
      (r) => dl.replaceChildren(...r.result.map((v) => h('option', { value: v }))),
      () => {},
    );
  });
  return [input, dl];
}

/** One filter row: builds its editor for `prop` and returns `{el, value()}` (value throws on invalid input). */
function editor(product, prop, spec) {
  spec = spec || {};
  const name = prop.name;
  if (name === 'licenseStatus') {
    const first = (Array.isArray(spec) ? spec[0] : spec) || {};
    const sels = FLAGS.map((f) => [f, tri(first[f])]);
    return {
      el: h('div', { class: 'editor' }, sels.map(([f, s]) => field(f, s))),
      value() {
        const o = {};
        sels.forEach(([f, s]) => triValue(s) !== undefined && (o[f] = triValue(s)));
        if (!Object.keys(o).length) throw new Error('licenseStatus: choose at least one flag');
        return [o];
      },
    };
  }
  if (GRANULARITY[name]) {
    const level = GRANULARITY[name].find((g) => spec[g] !== undefined) || GRANULARITY[name][0];
    const levelSel = select(GRANULARITY[name], level, { 'aria-label': 'Level' });
    const type = select([['string', 'is'], ['stringArray', 'is one of (comma-separated)']], spec.type || 'string', { 'aria-label': 'Operator' });
    const current = spec[level];
    const [input, dl] = valueInput(product, name, level, Array.isArray(current) ? current.join(', ') : current);
    levelSel.addEventListener('change', () => {
      // Suggestions depend on the level.
      const [fresh, fdl] = valueInput(product, name, levelSel.value, input.value);
      input.replaceWith(fresh);
      dl.replaceWith(fdl);
    });
    return {
      el: h('div', { class: 'editor' }, levelSel, type, input, dl),
      value() {
        const v = levelSel.parentNode.querySelector('input').value.trim();
        if (!v) throw new Error(`${name}: enter a value`);
        return { type: type.value, [levelSel.value]: type.value === 'stringArray' ? list(v) : v };
      },
    };
  }
  if (name === 'optOut' || name === 'backOff') {
    const first = (Array.isArray(spec) ? spec[0] : spec) || {};
    const hist = tri(first.historical);
    const cur = tri(first.current);
    return {
      el: h('div', { class: 'editor' }, field('historical', hist), field('current', cur)),
      value() {
        const o = {};
        if (triValue(hist) !== undefined) o.historical = triValue(hist);
        if (triValue(cur) !== undefined) o.current = triValue(cur);
        return o;
      },
    };
  }
  if (name === 'lifetimeEventUsage') {
    const c = (Array.isArray(spec) ? spec[0] : spec) || {};
    const cat = h('input', { type: 'text', value: c.category ?? '', 'aria-label': 'Event category' });
    const ev = h('input', { type: 'text', value: c.name ?? '', 'aria-label': 'Event name' });
    const min = h('input', { type: 'number', min: 0, value: c.min ?? '', 'aria-label': 'Minimum count' });
    const max = h('input', { type: 'number', min: 0, value: c.max ?? '', 'aria-label': 'Maximum count' });
    return {
      el: h('div', { class: 'editor' }, field('category', cat), field('event', ev), field('min', min), field('max', max)),
      value() {
        if (!ev.value.trim()) throw new Error('lifetimeEventUsage: enter an event name');
        const o = { category: cat.value.trim() || null, name: ev.value.trim() };
        if (min.value !== '') o.min = Number(min.value);
        if (max.value !== '') o.max = Number(max.value);
        return o;
      },
    };
  }
  if (name === 'reachOutDeliveries') {
    const ids = ((Array.isArray(spec) && spec[0] && spec[0].auto && spec[0].auto.delivered) || []).join(', ');
    const input = h('input', { type: 'text', value: ids, 'aria-label': 'Delivered ReachOut ids' });
    return {
      el: h('div', { class: 'editor' }, field('delivered ids (comma-separated, empty = none)', input)),
      value: () => [list(input.value).length ? { auto: { delivered: list(input.value) } } : {}],
    };
  }
  if (prop.dataType === 'boolean') {
    const v = select([['true', 'true'], ['false', 'false']], String(spec.value ?? true), { 'aria-label': 'Value' });
    return { el: h('div', { class: 'editor' }, v), value: () => ({ type: 'boolean', value: v.value === 'true' }) };
  }
  const kind = prop.dataType === 'number' ? 'number' : prop.dataType === 'date' ? 'date' : 'string';
  const ops =
    kind === 'number'
      ? [['number', '='], ['numberRange', 'between']]
      : kind === 'date'
        ? [['date', '='], ['dateRange', 'between']]
        : [['string', 'is'], ['stringArray', 'is one of (comma-separated)'], ...(prop.supportsRegex ? [['regex', 'matches regex']] : [])];
  const op = select(ops, spec.type || ops[0][0], { 'aria-label': 'Operator' });
  const inputType = kind === 'number' ? 'number' : kind === 'date' ? 'date' : 'text';
  let single;
  let dl = null;
  if (kind === 'string' && prop.supportsMeta) {
    [single, dl] = valueInput(product, name, null, Array.isArray(spec.value) ? spec.value.join(', ') : spec.value);
  } else {
    single = h('input', { type: kind === 'number' ? 'text' : inputType, value: spec.value ?? '', 'aria-label': 'Value' });
  }
  const min = h('input', { type: inputType, value: spec.min ?? '', 'aria-label': 'From' });
  const max = h('input', { type: inputType, value: spec.max ?? '', 'aria-label': 'To' });
  const rangeBox = h('span', { class: 'between' }, min, ' – ', max);
  const sync = () => {
    const isRange = op.value.endsWith('Range');
    single.hidden = isRange;
    rangeBox.hidden = !isRange;
  };
  op.addEventListener('change', sync);
  sync();
  return {
    el: h('div', { class: 'editor' }, op, single, dl, rangeBox),
    value() {
      const t = op.value;
      const num = (s) => (s === '<NULL>' ? s : Number(s));
      if (t.endsWith('Range')) {
        const o = { type: t };
        if (min.value !== '') o.min = kind === 'number' ? Number(min.value) : min.value;
        if (max.value !== '') o.max = kind === 'number' ? Number(max.value) : max.value;
        if (o.min === undefined && o.max === undefined) throw new Error(`${name}: enter a lower or upper bound`);
        return o;
      }
      const v = single.value.trim();
      if (!v) throw new Error(`${name}: enter a value`);
      if (t === 'stringArray') return { type: t, value: list(v) };
      return { type: t, value: kind === 'number' ? num(v) : v };
    },
  };
}

/**
 * The filter builder. `onApply(globalFilters)` receives the new filters object.
 */
export function filterBuilder(product, props, current, onApply) {
  const rows = h('div', { class: 'filter-rows' });
  const error = h('div', { 'aria-live': 'polite' });
  const entries = [];
  const options = [['', 'Choose a property…'], ...props.map((p) => [p.name, `${p.category} › ${p.friendlyName}`])];
  const addRow = (name, spec) => {
    const entry = { name, ed: null };
    const propSel = select(options, name || '', { 'aria-label': 'Filter property', class: 'filter-property' });
    const slot = h('div', { class: 'slot' });
    const mount = () => {
      entry.name = propSel.value;
      const prop = props.find((p) => p.name === propSel.value);
      entry.ed = prop ? editor(product, prop, spec) : null;
      spec = undefined;
      slot.replaceChildren(entry.ed ? entry.ed.el : '');
    };
    propSel.addEventListener('change', mount);
    mount();
    const row = h('div', { class: 'filter-row' }, propSel, slot, h('button', { type: 'button', class: 'small', 'aria-label': 'Remove filter', onclick: () => { entries.splice(entries.indexOf(entry), 1); row.remove(); } }, '✕'));
    entries.push(entry);
    rows.append(row);
  };
  Object.entries(current).forEach(([k, v]) => addRow(k, v));
  return h(
    'form',
    {
      class: 'filters',
      onsubmit: (e) => {
        e.preventDefault();
        try {
          const out = {};
          for (const en of entries) if (en.name && en.ed) out[en.name] = en.ed.value();
          error.replaceChildren();
          onApply(out);
        } catch (err) {
          error.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
        }
      },
    },
    rows,
    h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'add-filter', onclick: () => addRow('', undefined) }, 'Add filter'), h('button', { type: 'submit', id: 'apply-filters' }, 'Apply filters')),
    error,
  );
}

/** The API `levels` object for the level rows of the URL (`[{property, regex}]`). */
export function levelsBody(levelRows) {
  const out = {};
  levelRows.slice(0, 3).forEach((l, i) => {
    let segments;
    if (l.property === 'licenseStatus') segments = FLAGS.map((f) => ({ segmentLabel: f, [f]: true }));
    else if (l.property === 'optOut' || l.property === 'backOff') {
      segments = [{ segmentLabel: 'current', current: true }, { segmentLabel: 'historical', historical: true }, { segmentLabel: 'never', historical: false }];
    } else segments = [{ type: 'regex', value: l.regex || '.*', split: true }];
    out[`level${i + 1}`] = { property: l.property, segments };
  });
  return out;
}

/** The level builder: up to three rows of property + optional regex. */
export function levelBuilder(props, current, onApply) {
  const seg = segmentable(props);
  const options = [['', '(none)'], ...seg.map((p) => [p.name, p.friendlyName])];
  const rows = [0, 1, 2].map((i) => {
    const l = current[i] || {};
    const prop = select(options, l.property || '', { 'aria-label': `Level ${i + 1} property`, id: `level-${i + 1}` });
    const regex = h('input', { type: 'text', value: l.regex || '', placeholder: 'every value (.*)', 'aria-label': `Level ${i + 1} values matching` });
    return { prop, regex, el: h('div', { class: 'level-row' }, h('label', { for: `level-${i + 1}` }, `Level ${i + 1}`), prop, regex) };
  });
  return h(
    'form',
    {
      class: 'levels',
      onsubmit: (e) => {
        e.preventDefault();
        const out = [];
        for (const r of rows) {
          if (!r.prop.value) break;
          out.push(r.regex.value.trim() ? { property: r.prop.value, regex: r.regex.value.trim() } : { property: r.prop.value });
        }
        onApply(out);
      },
    },
    rows.map((r) => r.el),
    h('div', { class: 'buttons' }, h('button', { type: 'submit', id: 'apply-levels' }, 'Apply levels')),
  );
}
