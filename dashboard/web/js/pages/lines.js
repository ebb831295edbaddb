// Exceptions and Custom events: the latest lines with a search box, and the daily and
// monthly files with one-time download links (reporting-api §13, §14).
import * as api from '../api.js';
import * as state from '../state.js';
import { card, errorBox, fmt, h, select, table } from '../ui.js';

/** Asks for a one-time URL and follows it (the browser saves the zip). */
export async function fetchDownload(path, fileName, where) {
  try {
    const r = await api.post(path, { fileName });
    const a = h('a', { href: r.downloadUrl, download: fileName });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (err) {
    where.prepend(errorBox(err));
  }
}

function downloadButton(path, fileName, where, disabled) {
  return h('button', { type: 'button', class: 'small', disabled, 'data-download': fileName, onclick: () => fetchDownload(path, fileName, where) }, 'Download');
}

function linesPage(kind, columns) {
  return async function page(main, ctx) {
    const { params } = ctx;
    const count = ['10', '50', '100', '500', '1000'].includes(params.get('lines')) ? params.get('lines') : '100';
    const search = params.get('q') || '';
    const grid = h('div', { class: 'grid' });
    main.append(grid);

    const latest = card(grid, 'Latest lines', { id: 'last-lines', wide: true });
    api.post(ctx.base(`/v3/${kind}/getLastLines`), { lineCount: Number(count) }).then(
      (r) => {
        const names = Object.keys(r.fieldNames);
        const shown = columns.filter((c) => names.includes(c));
        const box = h('div');
        const input = h('input', { type: 'search', id: 'line-search', value: search, placeholder: 'Search every field', 'aria-label': 'Search lines' });
        const countSel = select(['10', '50', '100', '500', '1000'], count, { id: 'line-count', onchange: (e) => state.update({ lines: e.target.value }) });
        const textOf = (row) => names.map((n) => (typeof row[n] === 'object' ? JSON.stringify(row[n]) : String(row[n]))).join(' ').toLowerCase();
        const draw = () => {
          const q = input.value.trim().toLowerCase();
          const rows = r.result.filter((row) => !q || textOf(row).includes(q));
          box.replaceChildren(
            h('p', { class: 'muted', 'data-line-count': rows.length }, `${rows.length} of ${r.result.length} lines`),
            table(
              shown.map((c) => r.fieldNames[c]),
              rows.map((row) =>
                shown.map((c) => {
                  const v = row[c];
                  if (c === 'clientId' && v !== '<NULL>') return h('a', { href: state.href('client', { id: v }) }, v);
                  return typeof v === 'object' ? JSON.stringify(v) : v;
                }),
              ),
              { testid: 'last-lines' },
            ),
          );
          latest.setRows([names, ...rows.map((row) => names.map((n) => row[n]))]);
        };
        input.addEventListener('input', draw);
        input.addEventListener('change', () => history.replaceState(null, '', state.href(state.route().page, { q: input.value || null }, true)));
        latest.clear();
        latest.body.append(h('div', { class: 'controls' }, h('label', { for: 'line-count' }, 'Lines'), countSel, input), box);
        draw();
        latest.done();
      },
      (err) => latest.fail(err),
    );

    const files = card(grid, 'Files', { id: 'files', wide: true });
    api.get(ctx.base(`/v3/${kind}/listFiles`)).then(
      (r) => {
        files.clear();
        const dl = ctx.base(`/v3/${kind}/getDownloadUrl`);
        const rows = [
          ...(r.openDailyFiles || []).map((f) => ['today (open)', f.fileName, f.fileDate, f.uncompressedSizeKB, '', downloadButton(dl, f.fileName, files.body, !f.isAvailable)]),
          ...(r.dailyFiles || []).map((f) => ['daily', f.fileName, f.fileDate, f.uncompressedSizeKB, f.compressedSizeKB, downloadButton(dl, f.fileName, files.body)]),
          ...(r.monthlyFiles || []).map((f) => ['monthly', f.fileName, `${f.fileStartDate} – ${f.fileStopDate}`, f.uncompressedSizeKB, f.compressedSizeKB, downloadButton(dl, f.fileName, files.body)]),
        ];
        files.body.append(rows.length ? table(['Kind', 'File', 'Date', 'Size (KB)', 'Compressed (KB)', ''], rows, { testid: 'files' }) : h('p', { class: 'muted' }, 'No files yet.'));
        files.setRows([['kind', 'fileName', 'date', 'uncompressedSizeKB', 'compressedSizeKB'], ...rows.map((x) => x.slice(0, 5).map(fmt))]);
        files.done();
      },
      (err) => files.fail(err),
    );
  };
}

const COMMON = ['timestamp', 'clientId', 'prodVersion', 'prodEdition', 'os.version', 'geography.country'];

export const exceptions = linesPage('exceptionTracking', [...COMMON, 'className', 'methodName', 'message']);
export const customEvents = linesPage('customEventTracking', [...COMMON, 'eventCategory', 'eventName', 'customData']);
