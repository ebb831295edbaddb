// Charts: Apache ECharts (vendored, see vendor/echarts/VERSION), each in a card with PNG and
// CSV downloads and its numbers in an accessible table below the picture.
import * as echarts from '../vendor/echarts/echarts.esm.min.js';
import { card, download, h, slug, table } from './ui.js';

const live = new Set();
window.addEventListener('resize', () => live.forEach((c) => c.resize()));

/** Disposes every chart (on page change). */
export function disposeAll() {
  live.forEach((c) => c.dispose());
  live.clear();
}

const PALETTE = ['#3b6fd8', '#2f9e6e', '#d9534f', '#e0a030', '#7a5bd0', '#1aa3b8', '#c2568f', '#6b7a8f', '#98b53c', '#f07f3c'];

/**
 * A chart card. `show(option, rows)` draws `option` and lists `rows` (header first) in the
 * data table and the CSV.
 */
export function chartCard(parent, title, opts = {}) {
  const c = card(parent, title, opts);
  let chart = null;
  const png = h('button', {
    type: 'button',
    class: 'small',
    disabled: true,
    title: `Download "${title}" as PNG`,
    onclick: () => chart && download(`${slug(title)}.png`, chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: '#fff' })),
  }, 'PNG');
  c.actions.prepend(png);
  c.show = (option, rows, { note } = {}) => {
    c.clear();
    const box = h('div', { class: 'chart', style: `height:${opts.height || 300}px`, role: 'img', 'aria-label': title });
    c.body.append(box);
    if (note) c.body.append(h('p', { class: 'muted' }, note));
    chart = echarts.init(box, null, { renderer: 'canvas' });
    chart.setOption({ color: PALETTE, animation: false, tooltip: { trigger: 'axis' }, grid: { left: 56, right: 16, top: 36, bottom: 40, containLabel: true }, ...option });
    live.add(chart);
    png.disabled = false;
    c.setRows(rows);
    if (rows && rows.length > 1) {
      c.body.append(h('details', { class: 'data' }, h('summary', {}, 'Data'), table(rows[0], rows.slice(1), { testid: opts.id || slug(title) })));
    }
    c.done();
    return chart;
  };
  c.empty = (message) => {
    c.clear();
    c.body.append(h('p', { class: 'muted' }, message));
    c.done();
  };
  return c;
}

/** Series options for a category axis. */
export function barOption(categories, series, { stacked, horizontal, yName } = {}) {
  const cat = { type: 'category', data: categories, axisLabel: { hideOverlap: true } };
  const val = { type: 'value', name: yName || '' };
  return {
    legend: series.length > 1 ? { type: 'scroll', top: 0 } : undefined,
    xAxis: horizontal ? val : cat,
    yAxis: horizontal ? cat : val,
    series: series.map((s) => ({ type: 'bar', stack: stacked ? 'all' : undefined, emphasis: { focus: 'series' }, ...s })),
  };
}

export function lineOption(categories, series, { yName } = {}) {
  return {
    legend: { type: 'scroll', top: 0 },
    xAxis: { type: 'category', data: categories },
    yAxis: { type: 'value', name: yName || '' },
    series: series.map((s) => ({ type: 'line', showSymbol: categories.length < 60, ...s })),
  };
}

export function pieOption(items) {
  return {
    tooltip: { trigger: 'item' },
    legend: { type: 'scroll', orient: 'vertical', right: 0, top: 'middle' },
    series: [{ type: 'pie', radius: ['30%', '70%'], center: ['40%', '50%'], data: items, label: { formatter: '{b}: {d}%' } }],
  };
}
