// Events: a time series of one metric of one event (or all), at an interval, optionally broken
// down by a column or property and compared with the previous period of the same length.
import { query } from '../api.js?v=__ASSETS_VERSION__';
import {
  $,
  COLORS,
  bucketLabel,
  chartSnapshot,
  drawChart,
  fillTable,
  lineDataset,
  number,
} from '../ui.js?v=__ASSETS_VERSION__';

const PROPERTY_METRICS = new Set(['property_sum', 'property_average', 'property_min', 'property_max']);

function options() {
  const segment = $('events-metric').value;
  const property = $('events-property').value.trim();
  return {
    segment,
    property: PROPERTY_METRICS.has(segment) ? property : null,
    name: $('events-name').value || '*',
    interval: $('events-interval').value,
    breakdown: $('events-breakdown').value.trim(),
    previous: $('events-previous').checked,
  };
}

function seriesLabel(result, metricLabel) {
  const name = result.name === '*' ? 'All events' : result.name;
  const group = result.breakdown.length ? ` · ${result.breakdown.map((v) => v || '(none)').join(' / ')}` : '';
  return `${name}: ${metricLabel}${group}`;
}

function change(now, before) {
  if (before === null || before === undefined) return '–';
  if (before === 0) return now === 0 ? '0%' : 'new';
  const pct = ((now - before) / before) * 100;
  return `${pct > 0 ? '+' : ''}${number(Math.round(pct * 10) / 10)}%`;
}

export default {
  id: 'events',
  title: 'Events',
  filters: true,
  range: true,

  init(app) {
    $('events-metric').addEventListener('change', () => {
      $('events-property-label').hidden = !PROPERTY_METRICS.has($('events-metric').value);
    });
    $('events-form').addEventListener('submit', (event) => {
      event.preventDefault();
      app.reload();
    });
  },

  async load(ctx) {
    await ctx.eventNames();
    const chosen = options();
    const base = ctx.base();
    const interval = chosen.interval === 'auto' ? (base.range === 'today' ? 'hour' : 'day') : chosen.interval;
    const series = { name: chosen.name, segment: chosen.segment };
    if (chosen.property) series.property = chosen.property;
    const body = { ...base, series: [series], interval, previous: chosen.previous };
    if (chosen.breakdown) body.breakdowns = [{ name: chosen.breakdown }];
    const result = await query('time_series', body);
    if (!ctx.current()) return undefined;

    const metricLabel = $('events-metric').selectedOptions[0].textContent;
    const labels = result.series.length ? result.series[0].data.map((p) => bucketLabel(p.date, result.interval)) : [];
    const datasets = [];
    result.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const label = seriesLabel(s, metricLabel);
      datasets.push(lineDataset(label, s.data.map((p) => p.count), color));
      if (chosen.previous) {
        datasets.push(
          lineDataset(`${label} (previous period)`, s.data.map((p) => p.previous ?? 0), color, {
            borderDash: [6, 4],
            pointRadius: 0,
          }),
        );
      }
    });
    drawChart('events-chart', {
      type: 'line',
      data: { labels, datasets },
      options: {
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { display: true, position: 'bottom' } },
        scales: { y: { beginAtZero: true } },
      },
    });
    const columns = [['Series'], ['Total', 'num'], ['Average', 'num'], ['Min', 'num'], ['Max', 'num']];
    if (chosen.previous) columns.push(['Previous total', 'num'], ['Change', 'num']);
    const rows = result.series.map((s) => {
      const m = s.metrics;
      const row = [seriesLabel(s, metricLabel), number(m.sum), number(m.average), number(m.min), number(m.max)];
      if (chosen.previous) {
        const before = m.previous ? m.previous.sum : null;
        row.push(before === null ? '–' : number(before), change(m.sum, before));
      }
      return row;
    });
    fillTable($('events-table'), columns, rows);
    return {
      request: body,
      interval: result.interval,
      series: result.series.map((s) => ({
        name: s.name,
        breakdown: s.breakdown,
        total: s.metrics.sum,
        previousTotal: s.metrics.previous ? s.metrics.previous.sum : null,
      })),
      chart: chartSnapshot('events-chart'),
      table: rows,
    };
  },
};
