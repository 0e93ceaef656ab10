// Overview: KPIs, visitors and sessions over time, top pages, referrers, countries, browsers.
import { query } from '../api.js?v=__ASSETS_VERSION__';
import {
  $,
  bucketLabel,
  chartSnapshot,
  drawChart,
  duration,
  fillTable,
  integer,
  lineDataset,
} from '../ui.js?v=__ASSETS_VERSION__';

const TOPS = ['path', 'referrer_name', 'country', 'browser'];

function renderKpis(metrics) {
  $('kpi-visitors').textContent = integer.format(metrics.visitors);
  $('kpi-sessions').textContent = integer.format(metrics.sessions);
  $('kpi-bounce').textContent = `${Math.round(metrics.bounceRate)}%`;
  $('kpi-duration').textContent = duration(metrics.avgSessionDuration);
}

function renderChart(result) {
  const [visitors, sessions] = result.series;
  drawChart('chart', {
    type: 'line',
    data: {
      labels: visitors.data.map((point) => bucketLabel(point.date, result.interval)),
      datasets: [
        lineDataset('Visitors', visitors.data.map((p) => p.count), '#2563eb'),
        lineDataset('Sessions', sessions.data.map((p) => p.count), '#16a34a'),
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

export default {
  id: 'overview',
  title: 'Overview',
  filters: true,
  range: true,

  async load(ctx) {
    const base = ctx.base();
    const interval = base.range === 'today' ? 'hour' : 'day';
    const [overview, series, ...tops] = await Promise.all([
      query('overview', { ...base, previous: false }),
      query('time_series', {
        ...base,
        interval,
        series: [
          { name: '*', segment: 'user' },
          { name: '*', segment: 'session' },
        ],
      }),
      ...TOPS.map((dimension) => query('top', { ...base, dimension, limit: 10 })),
    ]);
    if (!ctx.current()) return undefined;
    renderKpis(overview.metrics);
    renderChart(series);
    TOPS.forEach((dimension, i) =>
      fillTable(
        $(`top-${dimension}`),
        [['Value'], ['Count', 'num'], ['Visitors', 'num']],
        tops[i].rows.map((row) => [row.value || '(none)', integer.format(row.count), integer.format(row.visitors)]),
      ),
    );
    return {
      kpis: overview.metrics,
      chart: chartSnapshot('chart'),
      tops: Object.fromEntries(TOPS.map((dimension, i) => [dimension, tops[i].rows])),
    };
  },
};
