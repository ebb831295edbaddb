// Engagement: the three usage-distribution histograms, the churn/engagement cohort chart and
// the three churn histograms.
import * as api from '../api.js';
import { barOption, chartCard, lineOption } from '../charts.js';
import * as state from '../state.js';
import { h, segmented } from '../ui.js';

const HISTOGRAMS = [
  ['activeDays', 'Users by active days'],
  ['sessions', 'Users by sessions'],
  ['runtime', 'Users by runtime (h:mm)'],
];
const CHURN = [
  ['days', 'Lost users by lifetime active days'],
  ['sessions', 'Lost users by lifetime sessions'],
  ['runtime', 'Lost users by lifetime runtime'],
];

export default function engagement(main, ctx) {
  const { params } = ctx;
  const range = state.range(params);
  const cohortSplit = ['day', 'week', 'month'].includes(params.get('cohort')) ? params.get('cohort') : 'week';
  const grid = h('div', { class: 'grid' });
  main.append(grid);

  // One request draws the three distribution charts.
  const dist = HISTOGRAMS.map(([k, t]) => chartCard(grid, t, { id: `usage-${k}` }));
  api.post(ctx.base('/v3/reporting/engagement/usageDistribution'), state.withFilters(params, range)).then(
    (r) =>
      HISTOGRAMS.forEach(([k], i) => {
        const buckets = Object.keys(r.result[k]);
        const users = buckets.map((b) => r.result[k][b].users);
        dist[i].show(barOption(buckets, [{ name: 'users', data: users }], { yName: 'users' }), [[k, 'users'], ...buckets.map((b, j) => [b, users[j]])]);
      }),
    (err) => dist.forEach((c) => c.fail(err)),
  );

  const cohort = chartCard(grid, 'Churn and engagement by period since install', {
    id: 'cohort',
    wide: true,
    extra: segmented('Period', [['day', 'Days'], ['week', 'Weeks'], ['month', 'Months']], cohortSplit, (v) => state.update({ cohort: v })),
  });
  api.post(ctx.base('/v3/reporting/engagement/churnAndEngagement'), state.withFilters(params, { ...range, dateSplit: cohortSplit, periods: 12 })).then(
    (r) => {
      const all = r.result.all || Object.values(r.result)[0] || {};
      const periods = Object.keys(all);
      if (!periods.length) return cohort.empty('No installations were installed in this range.');
      const get = (p, k) => (all[p] && all[p][k] !== undefined ? all[p][k] : 0);
      cohort.show(
        lineOption(periods.map((p) => `${cohortSplit} ${p}`), [
          { name: 'engaged %', data: periods.map((p) => get(p, 'engagedPercent')) },
          { name: 'lost %', data: periods.map((p) => get(p, 'lostPercent')) },
        ], { yName: '% of cohort' }),
        [['period', 'engaged', 'engagedPercent', 'lost', 'lostPercent'], ...periods.map((p) => [p, get(p, 'engaged'), get(p, 'engagedPercent'), get(p, 'lost'), get(p, 'lostPercent')])],
      );
    },
    (err) => cohort.fail(err),
  );

  for (const [k, t] of CHURN) {
    const c = chartCard(grid, t, { id: `churn-${k}` });
    api.post(ctx.base(`/v3/reporting/churn/histogram/${k}`), state.withFilters(params, range)).then(
      (r) => {
        const buckets = Object.keys(r.result);
        c.show(barOption(buckets, [{ name: 'lost users', data: buckets.map((b) => r.result[b]), itemStyle: { color: '#d9534f' } }]), [[k, 'lost users'], ...buckets.map((b) => [b, r.result[b]])]);
      },
      (err) => c.fail(err),
    );
  }
}
