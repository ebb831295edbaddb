// Events: the event list with basic/advanced flags, a timeline of selected events and
// combinations, the advanced full report with its usage-frequency histogram, and lifetime histograms.
import * as api from '../api.js';
import { barOption, chartCard, lineOption } from '../charts.js';
import * as state from '../state.js';
import { card, errorBox, h, segmented, table } from '../ui.js';

const key = (c, n) => JSON.stringify([c, n]);
const label = (item) => (item.combiLabel !== undefined ? item.combiLabel : `${item.category ?? '(no category)'} › ${item.name}`);

/** URL items (`[category, name]` or `{combiLabel, combiArray}`) as API event selectors (§5). */
function selectors(items) {
  return items.map((it) =>
    Array.isArray(it)
      ? { category: it[0], name: it[1] }
      : { combiLabel: it.combiLabel, combiArray: it.members.map(([c, n]) => ({ category: c, name: n })) },
  );
}

export default async function events(main, ctx) {
  const { params } = ctx;
  const range = state.range(params);
  const split = ['day', 'week', 'month'].includes(params.get('split')) ? params.get('split') : 'week';
  const items = state.jsonParam(params, 'ev', []);
  const chosen = new Set(items.filter(Array.isArray).map(([c, n]) => key(c, n)));
  const grid = h('div', { class: 'grid' });
  main.append(grid);

  // Event list with flags.
  const listCard = card(grid, 'Events', { id: 'event-list', wide: true });
  const timeline = chartCard(grid, 'Timeline of selected events', {
    id: 'event-timeline',
    wide: true,
    extra: segmented('Split by', [['day', 'Day'], ['week', 'Week'], ['month', 'Month']], split, (v) => state.update({ split: v })),
  });

  api.get(ctx.base('/v3/event-tracking')).then(
    (r) => {
      const all = r.result.flatMap((g) => g.categoryEventNames.map((e) => ({ category: g.category, ...e })));
      listCard.clear();
      const toggle = (e, field) => async (ev) => {
        const on = ev.target.checked;
        const next = field === 'advanced' ? { basic: on ? true : e.basic, advanced: on } : { basic: on, advanced: on ? e.advanced : false };
        ev.target.disabled = true;
        try {
          await api.put(ctx.base('/v3/event-tracking'), { events: [{ category: e.category, name: e.eventName, ...next }] });
          ctx.refresh();
        } catch (err) {
          ev.target.checked = !on;
          ev.target.disabled = false;
          listCard.body.prepend(errorBox(err));
        }
      };
      const rows = all.map((e) => [
        h('input', {
          type: 'checkbox',
          checked: chosen.has(key(e.category, e.eventName)),
          'aria-label': `Chart ${e.eventName}`,
          'data-chart-event': e.eventName,
          onchange: (ev) => {
            const k = key(e.category, e.eventName);
            const next = items.filter((it) => !Array.isArray(it) || key(it[0], it[1]) !== k);
            if (ev.target.checked) next.push([e.category, e.eventName]);
            state.update({ ev: next.length ? next : null });
          },
        }),
        e.category ?? '(no category)',
        e.eventName,
        h('input', { type: 'checkbox', checked: e.basic, disabled: !ctx.editable, 'aria-label': `Basic: ${e.eventName}`, 'data-basic': e.eventName, onchange: toggle(e, 'basic') }),
        h('input', { type: 'checkbox', checked: e.advanced, disabled: !ctx.editable, 'aria-label': `Advanced: ${e.eventName}`, 'data-advanced': e.eventName, onchange: toggle(e, 'advanced') }),
        e.dateFirstSeen ?? '',
        e.dateLastSeen ?? '',
      ]);
      const comboName = h('input', { type: 'text', id: 'combo-label', placeholder: 'Combination label', 'aria-label': 'Combination label' });
      listCard.body.append(
        ctx.editable ? '' : h('p', { class: 'muted' }, 'Your role on this product is viewer: the basic/advanced flags are read-only.'),
        table(['Chart', 'Category', 'Event', 'Basic', 'Advanced', 'First seen', 'Last seen'], rows, { testid: 'events' }),
        h(
          'form',
          {
            class: 'inline-form',
            onsubmit: (ev) => {
              ev.preventDefault();
              const members = items.filter(Array.isArray);
              if (!comboName.value.trim() || !members.length) return;
              state.update({ ev: [...items, { combiLabel: comboName.value.trim(), members }] });
            },
          },
          comboName,
          h('button', { type: 'submit', id: 'combine' }, 'Combine selected events'),
          items.some((it) => !Array.isArray(it)) ? h('button', { type: 'button', class: 'small', onclick: () => state.update({ ev: items.filter(Array.isArray) }) }, 'Remove combinations') : null,
        ),
      );
      listCard.setRows([['category', 'event', 'basic', 'advanced', 'dateFirstSeen', 'dateLastSeen'], ...all.map((e) => [e.category, e.eventName, e.basic, e.advanced, e.dateFirstSeen, e.dateLastSeen])]);
      listCard.done();
    },
    (err) => listCard.fail(err),
  );

  if (!items.length) timeline.empty('Tick events in the Chart column to draw their timeline; combine them to count their union.');
  else {
    api.post(ctx.base('/v3/reporting/eventTracking/basic/timeline'), state.withFilters(params, { ...range, dateSplit: split, events: selectors(items) })).then(
      (r) => {
        const periods = Object.keys(r.result);
        const names = (r.result[periods[0]] || []).map(label);
        timeline.show(
          lineOption(periods, names.map((n, i) => ({ name: n, data: periods.map((p) => r.result[p][i].value) })), { yName: 'occurrences' }),
          [['period', ...names], ...periods.map((p) => [p, ...r.result[p].map((x) => x.value)])],
        );
      },
      (err) => timeline.fail(err),
    );
  }

  // Advanced reports.
  const fullCard = card(grid, 'Full report (advanced events)', { id: 'full-report', wide: true });
  const freq = chartCard(grid, 'Usage frequency', { id: 'usage-frequency' });
  const lifeCount = chartCard(grid, 'Lifetime event count', { id: 'lifetime-count' });
  const lifeDay = chartCard(grid, 'Lifetime average per active day', { id: 'lifetime-day' });
  let full;
  try {
    full = (await api.post(ctx.base('/v3/reporting/eventTracking/advanced/fullReport'), state.withFilters(params, { ...range, sort: 'eventCounts' }))).result;
  } catch (err) {
    [fullCard, freq, lifeCount, lifeDay].forEach((c) => c.fail(err));
    return;
  }
  const selected = params.get('freq');
  const showFreq = (el) => {
    const buckets = Object.keys(el.usageFrequency);
    freq.show(barOption(buckets, [{ name: 'users', data: buckets.map((b) => el.usageFrequency[b]) }], { yName: 'users' }), [['occurrences per user', 'users'], ...buckets.map((b) => [b, el.usageFrequency[b]])], { note: label(el) });
  };
  const cols = ['eventCounts', 'uniqueUsersUsedAtLeastOnce', 'uniqueUsersNeverUsed', 'averageEventCountPerUserAtLeastOnce', 'averageEventCountPerUserAll', 'averageEventCountPerSessionAll'];
  fullCard.clear();
  if (!full.length) {
    fullCard.body.append(h('p', { class: 'muted' }, 'No advanced event was used in this range. Editors tick "Advanced" in the event list to include an event.'));
    fullCard.done();
    [freq, lifeCount, lifeDay].forEach((c) => c.empty('No advanced events.'));
    return;
  }
  fullCard.body.append(
    table(
      ['Category', 'Event', 'Count', 'Users (≥1)', 'Users (never)', 'Avg/user (≥1)', 'Avg/user (all)', 'Avg/session', ''],
      full.map((el) => [
        el.category ?? (el.combiLabel !== undefined ? '' : '(no category)'),
        el.name ?? el.combiLabel,
        ...cols.map((c) => el[c]),
        h('a', { href: state.href('events', { freq: label(el) }, true), class: 'small' }, 'Frequency'),
      ]),
      { testid: 'full-report' },
    ),
  );
  fullCard.setRows([['category', 'name', ...cols], ...full.map((el) => [el.category, el.name ?? el.combiLabel, ...cols.map((c) => el[c])])]);
  fullCard.done();
  showFreq(full.find((el) => label(el) === selected) || full[0]);

  // Lifetime histograms for the selected advanced events, else the five most used.
  const advancedChosen = full.filter((el) => el.combiLabel === undefined && chosen.has(key(el.category, el.name)));
  const subject = (advancedChosen.length ? advancedChosen : full.filter((el) => el.combiLabel === undefined).slice(0, 5)).map((el) => ({ category: el.category, name: el.name }));
  api.post(ctx.base('/v3/reporting/eventTracking/lifetime/histogram'), state.withFilters(params, { ...range, events: subject })).then(
    (r) => {
      for (const [metric, c] of [['eventCount', lifeCount], ['averageCountPerActiveDay', lifeDay]]) {
        const hist = r.result.histograms[metric];
        const bins = Object.keys(hist);
        const names = subject.map(label);
        c.show(
          barOption(bins, names.map((n, i) => ({ name: n, data: bins.map((b) => hist[b][i].value) })), { yName: 'users' }),
          [['bin', ...names], ...bins.map((b) => [b, ...hist[b].map((x) => x.value)])],
        );
      }
    },
    (err) => [lifeCount, lifeDay].forEach((c) => c.fail(err)),
  );
}
