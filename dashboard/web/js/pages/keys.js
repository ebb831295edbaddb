// License keys: a searchable registry table with over-quota highlighting; editors insert,
// edit and delete keys (reporting-api §12).
import * as api from '../api.js';
import * as state from '../state.js';
import { card, errorBox, field, h, select, table } from '../ui.js';

const TYPES = ['evaluation', 'purchased', 'freeware', 'unknown', 'nfr', 'custom1', 'custom2', 'custom3'];
const FLAGS = ['activated', 'expired', 'blocked', 'allowed'];
const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The edit dialog; resolves after a successful save. `record` null inserts. */
function editDialog(ctx, record, onSaved) {
  const isNew = !record;
  const r = record || { licenseKey: '', licenseType: 'unknown', activated: false, expired: false, blocked: false, allowed: false, expiryDate: null, quota: null, notes: null };
  const keyInput = h('input', { type: 'text', id: 'key-licenseKey', value: r.licenseKey, required: true, readonly: !isNew, maxlength: 256 });
  const type = select(TYPES, r.licenseType, { id: 'key-licenseType' });
  const flags = FLAGS.map((f) => [f, h('input', { type: 'checkbox', id: `key-${f}`, checked: r[f] })]);
  const expiry = h('input', { type: 'date', id: 'key-expiryDate', value: r.expiryDate || '' });
  const quota = h('input', { type: 'number', id: 'key-quota', min: 0, step: 1, value: r.quota ?? '', placeholder: 'unlimited' });
  const notes = h('textarea', { id: 'key-notes', maxlength: 1024, rows: 2 }, r.notes || '');
  const status = h('div', { 'aria-live': 'polite' });
  const dialog = h(
    'dialog',
    { class: 'key-dialog', 'aria-labelledby': 'key-dialog-title' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (e) => {
          e.preventDefault();
          // Only changed fields are sent: `expired` shows the effective value (stored flag or
          // past expiry), so echoing it back would store a flag nobody set.
          const item = { licenseKey: keyInput.value.trim() };
          if (isNew || type.value !== r.licenseType) item.licenseType = type.value;
          flags.forEach(([f, box]) => {
            if (isNew ? box.checked : box.checked !== r[f]) item[f] = box.checked;
          });
          const exp = expiry.value || null;
          if (exp !== (r.expiryDate || null)) item.expiryDate = exp;
          const q = quota.value === '' ? null : Number(quota.value);
          if (q !== (r.quota ?? null)) item.quota = q;
          const n = notes.value.trim() || null;
          if (n !== (r.notes || null)) item.notes = n;
          try {
            await api.post(ctx.base('/v3/licenseKeys/updateKeys'), { keyUpdates: [item] });
            dialog.close();
            onSaved();
          } catch (err) {
            status.replaceChildren(errorBox(err));
          }
        },
      },
      h('h2', { id: 'key-dialog-title' }, isNew ? 'Add a license key' : `Edit ${r.licenseKey}`),
      field('License key', keyInput),
      field('License type', type),
      h('fieldset', {}, h('legend', {}, 'Status'), flags.map(([f, box]) => h('label', { class: 'check' }, box, ` ${f}`))),
      field('Expiry date', expiry),
      field('Quota (installations)', quota, 'empty = unlimited'),
      field('Notes', notes),
      status,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', id: 'key-save' }, 'Save'), h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
    ),
  );
  // Escape closes the dialog too; it is rebuilt on every open.
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

export default function keys(main, ctx) {
  const { params } = ctx;
  const q = params.get('q') || '';
  const overOnly = params.get('over') === '1';
  const at = params.get('at') || null;
  const search = h('input', { type: 'search', id: 'key-search', value: q, placeholder: 'Search keys', 'aria-label': 'Search license keys' });
  const over = h('input', { type: 'checkbox', id: 'key-over', checked: overOnly });
  main.append(
    h(
      'form',
      { class: 'controls', onsubmit: (e) => { e.preventDefault(); state.update({ q: search.value.trim() || null, over: over.checked ? '1' : null, at: null }); } },
      search,
      h('label', { class: 'check' }, over, ' over quota only'),
      h('button', { type: 'submit' }, 'Search'),
      ctx.editable ? h('button', { type: 'button', id: 'key-add', onclick: () => editDialog(ctx, null, ctx.refresh) }, 'Add key') : null,
    ),
  );
  const c = card(main, 'License keys', { id: 'keys', wide: true });
  const filters = {};
  if (q) filters.licenseKey = { type: 'regex', value: escapeRegex(q) };
  if (overOnly) filters.overQuotaCount = { type: 'numberRange', min: 1 };
  const body = { pageSize: 100 };
  if (Object.keys(filters).length) body.filters = filters;
  if (at) body.startAtKey = at;
  api.post(ctx.base('/v3/licenseKeys/listKeys'), body).then(
    (r) => {
      c.clear();
      const cols = ['licenseKey', 'licenseType', 'activated', 'expired', 'blocked', 'allowed', 'expiryDate', 'addedDate', 'autoCollected', 'quota', 'activeClients', 'overQuotaCount', 'dateLastSeen', 'notes'];
      const del = (k) => async () => {
        if (!window.confirm(`Delete license key ${k}?`)) return;
        try {
          await api.post(ctx.base('/v3/licenseKeys/deleteKeys'), { licenseKeys: [k] });
          ctx.refresh();
        } catch (err) {
          c.body.prepend(errorBox(err));
        }
      };
      const yes = (v) => (v ? '✓' : '');
      const rows = r.result.map((k) => [
        k.licenseKey, k.licenseType, yes(k.activated), yes(k.expired), yes(k.blocked), yes(k.allowed), k.expiryDate ?? '', k.addedDate, yes(k.autoCollected),
        k.quota ?? '∞', k.activeClients, k.overQuotaCount ?? '', k.dateLastSeen ?? '', k.notes ?? '',
        ctx.editable
          ? h('span', { class: 'row-actions' },
              h('button', { type: 'button', class: 'small', 'data-edit': k.licenseKey, onclick: () => editDialog(ctx, k, ctx.refresh) }, 'Edit'),
              h('button', { type: 'button', class: 'small danger', 'data-delete': k.licenseKey, onclick: del(k.licenseKey) }, 'Delete'))
          : '',
      ]);
      const overCount = r.result.filter((k) => k.overQuotaCount > 0).length;
      c.body.append(
        h('p', { class: 'muted' }, `${r.result.length} keys on this page`, overCount ? `, ${overCount} over quota (highlighted)` : ''),
        r.result.length
          ? table(['Key', 'Type', 'Activated', 'Expired', 'Blocked', 'Allowed', 'Expires', 'Added', 'Auto', 'Quota', 'Active clients', 'Over quota', 'Last seen', 'Notes', ''], rows, {
              testid: 'keys',
              rowAttrs: (_, i) => ({ class: r.result[i].overQuotaCount > 0 ? 'over-quota' : null, 'data-key': r.result[i].licenseKey }),
            })
          : h('p', { class: 'muted' }, 'No keys match.'),
        h('div', { class: 'pager' },
          at ? h('a', { href: state.href('keys', { q: q || null, over: overOnly ? '1' : null }) }, '« First page') : null,
          r.reachedEnd ? null : h('a', { href: state.href('keys', { q: q || null, over: overOnly ? '1' : null, at: r.nextKey }), id: 'keys-next' }, 'Next page »')),
      );
      c.setRows([cols, ...r.result.map((k) => cols.map((col) => k[col]))]);
      c.done();
    },
    (err) => c.fail(err),
  );
}
