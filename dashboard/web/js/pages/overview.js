// Overview: totals for the range, the new/active/lost timeline and the net user gain.
import * as api from '../api.js';
import { barOption, chartCard, lineOption } from '../charts.js';
import * as state from '../state.js';
import { card, fmt, h, segmented } from '../ui.js';

const STATUS = ['new', 'active', 'lost'];

export default function overview(main, ctx) {
  const { params } = ctx;
  const split = ['day', 'week', 'month'].includes(params.get('split')) ? params.get('split') : 'day';
  const range = state.range(params);
  const body = state.withFilters(params, { ...range, clientStatus: STATUS });
  const path = ctx.base('/v3/reporting/generic/dateRange');

  main.append(
    h('div', { class: 'controls' }, segmented('Split by', [['day', 'Day'], ['week', 'Week'], ['month', 'Month']], split, (v) => state.update({ split: v }))),
  );
  const grid = h('div', { class: 'grid' });
  main.append(grid);

  const totals = card(grid, 'Totals for the range', { id: 'totals', wide: true });
  api.post(path, body).then(
    (r) => {
      const t = r.result.totals;
      const net = t.new - t.lost;
      totals.clear();
      totals.body.append(
        h(
          'div',
          { class: 'kpis' },
          [['new', 'New users', t.new], ['active', 'Active users', t.active], ['lost', 'Lost users', t.lost], ['net', 'Net user gain', net]].map(([k, label, v]) =>
            h('div', { class: `kpi ${k}` }, h('span', { class: 'label' }, label), h('span', { class: 'value', 'data-total': k }, fmt(v))),
          ),
        ),
      );
      totals.setRows([['new', 'active', 'lost', 'net'], [t.new, t.active, t.lost, net]]);
      totals.done();
    },
    (err) => totals.fail(err),
  );

  const timeline = chartCard(grid, 'New, active and lost users', { id: 'timeline', wide: true, height: 320 });
  const gain = chartCard(grid, 'Net user gain', { id: 'net-gain', wide: true, height: 240 });
  api.post(path, { ...body, dateSplit: split }).then(
    (r) => {
      const periods = Object.keys(r.result);
      const series = STATUS.map((s) => ({ name: s, data: periods.map((p) => r.result[p][s]) }));
      timeline.show(lineOption(periods, series, { yName: 'users' }), [['period', ...STATUS], ...periods.map((p) => [p, ...STATUS.map((s) => r.result[p][s])])]);
      const net = periods.map((p) => r.result[p].new - r.result[p].lost);
      gain.show(
        barOption(periods, [{ name: 'new − lost', data: net.map((v) => ({ value: v, itemStyle: { color: v < 0 ? '#d9534f' : '#2f9e6e' } })) }]),
        [['period', 'new', 'lost', 'net'], ...periods.map((p, i) => [p, r.result[p].new, r.result[p].lost, net[i]])],
        { note: 'Net gain per period = new − lost, from the timeline above.' },
      );
    },
    (err) => {
      timeline.fail(err);
      gain.fail(err);
    },
  );
}
