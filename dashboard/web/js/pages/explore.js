// Explore: global filters, up to three segmentation levels, as stacked bars, pie or table.
import * as api from '../api.js';
import { barOption, chartCard, pieOption } from '../charts.js';
import { catalogue, filterBuilder, levelBuilder, levelsBody } from '../filters.js';
import * as state from '../state.js';
import { card, errorBox, fmt, h, segmented } from '../ui.js';

const STATUS = ['new', 'active', 'lost'];

/** Flattens a levels answer into `[l1, l2, l3, new, active, lost]` rows. */
function flatten(node, depth, path, out) {
  const key = `level${depth}`;
  if (!node[key]) return;
  for (const [k, v] of Object.entries(node[key])) {
    const p = [...path, k];
    out.push({ path: p, totals: v.totals });
    flatten(v, depth + 1, p, out);
  }
}

export default async function explore(main, ctx) {
  const { params, product } = ctx;
  const kind = params.get('kind') === 'current' ? 'current' : 'range';
  const view = ['bars', 'pie', 'table'].includes(params.get('view')) ? params.get('view') : 'bars';
  const status = STATUS.includes(params.get('status')) ? params.get('status') : 'active';
  const levelRows = state.jsonParam(params, 'lv', []);
  const props = await catalogue(product).catch((err) => {
    main.append(errorBox(err));
    return null;
  });
  if (!props) return;

  const side = h('div', { class: 'side' });
  const results = h('div', { class: 'results' });
  main.append(h('div', { class: 'explore' }, side, results));

  const filterCard = card(side, 'Filters', { id: 'filters', noCsv: true });
  filterCard.clear();
  filterCard.body.append(filterBuilder(product, props, state.filters(params), (f) => state.update({ f: Object.keys(f).length ? f : null })));
  filterCard.done();
  const levelCard = card(side, 'Segmentation', { id: 'levels', noCsv: true });
  levelCard.clear();
  levelCard.body.append(levelBuilder(props, levelRows, (lv) => state.update({ lv: lv.length ? lv : null })));
  levelCard.done();

  results.append(
    h(
      'div',
      { class: 'controls' },
      segmented('Report', [['range', 'Date range'], ['current', 'Current (start → today)']], kind, (v) => state.update({ kind: v })),
      segmented('View', [['bars', 'Stacked bars'], ['pie', 'Pie'], ['table', 'Table']], view, (v) => state.update({ view: v })),
      segmented('Status', STATUS.map((s) => [s, s]), status, (v) => state.update({ status: v })),
    ),
  );

  const range = state.range(params);
  const body = state.withFilters(params, kind === 'current' ? { startDate: range.startDate, clientStatus: STATUS } : { ...range, clientStatus: STATUS });
  if (levelRows.length) body.levels = levelsBody(levelRows);
  const path = ctx.base(kind === 'current' ? '/v3/reporting/generic/current' : '/v3/reporting/generic/dateRange');
  const names = levelRows.map((l) => l.property);
  const title = names.length ? `Users by ${names.join(' › ')}` : 'Users';
  const chart = chartCard(results, title, { id: 'explore', wide: true, height: 380 });
  let r;
  try {
    r = await api.post(path, body);
  } catch (err) {
    chart.fail(err);
    return;
  }
  if (!levelRows.length) {
    const t = r.result.totals;
    chart.show(barOption(STATUS, [{ name: 'users', data: STATUS.map((s) => t[s]) }]), [['status', 'users'], ...STATUS.map((s) => [s, t[s]])]);
    return;
  }
  const rows = [];
  flatten(r.result, 1, [], rows);
  const depth = names.length;
  const header = [...names, ...STATUS];
  const tableRows = rows.map((x) => [...names.map((_, i) => x.path[i] ?? ''), ...STATUS.map((s) => x.totals[s])]);
  if (view === 'table') {
    chart.clear();
    chart.body.append(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { 'data-table': 'explore' },
          h('thead', {}, h('tr', {}, header.map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows.map((x, i) => h('tr', { class: `depth-${x.path.length}` }, tableRows[i].map((c, j) => h('td', { class: j >= depth ? 'num' : null }, fmt(c)))))),
        ),
      ),
    );
    chart.setRows([header, ...tableRows]);
    chart.done();
    return;
  }
  const top = rows.filter((x) => x.path.length === 1);
  const l1 = top.map((x) => x.path[0]);
  if (view === 'pie' || depth === 1) {
    const opt = view === 'pie' ? pieOption(top.map((x) => ({ name: x.path[0], value: x.totals[status] }))) : barOption(l1, [{ name: status, data: top.map((x) => x.totals[status]) }]);
    chart.show(opt, [header, ...tableRows]);
    return;
  }
  // Stacked bars: one bar per level-1 key, stacked by the deepest level's keys below it.
  const leaves = rows.filter((x) => x.path.length === depth);
  const seriesKeys = [...new Set(leaves.map((x) => x.path.slice(1).join(' › ')))];
  const series = seriesKeys.map((k) => ({
    name: k,
    data: l1.map((a) => {
      const leaf = leaves.find((x) => x.path[0] === a && x.path.slice(1).join(' › ') === k);
      return leaf ? leaf.totals[status] : 0;
    }),
  }));
  chart.show(barOption(l1, series, { stacked: true, yName: `${status} users` }), [header, ...tableRows]);
}
