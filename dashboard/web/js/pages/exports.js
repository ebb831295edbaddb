// Exports: the raw daily files (reporting-api §16) with one-time download links.
import * as api from '../api.js';
import { card, h, table } from '../ui.js';
import { fetchDownload } from './lines.js';

export default function exportsPage(main, ctx) {
  const c = card(main, 'Raw data files', { id: 'exports', wide: true });
  api.get(ctx.base('/v3/rawEvents/download/listFiles')).then(
    (r) => {
      c.clear();
      const dl = ctx.base('/v3/rawEvents/download/getDownloadUrl');
      const files = r.fileList || [];
      c.body.append(
        h('p', { class: 'muted' }, 'One zip per day of received data: sessions, events, exceptions and client properties as CSV.'),
        files.length
          ? table(['File', 'Date', 'Compressed (KB)', ''], files.map((f) => [f.fileName, f.fileDate, f.compressedSizeKB, h('button', { type: 'button', class: 'small', 'data-download': f.fileName, onclick: () => fetchDownload(dl, f.fileName, c.body) }, 'Download')]), { testid: 'exports' })
          : h('p', { class: 'muted' }, 'No files yet: a day\'s file is produced after the day ends.'),
      );
      c.setRows([['fileName', 'fileDate', 'compressedSizeKB'], ...files.map((f) => [f.fileName, f.fileDate, f.compressedSizeKB])]);
      c.done();
    },
    (err) => c.fail(err),
  );
}
