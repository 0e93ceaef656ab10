// Retention: cohorts by the period of each visitor's first event (or a chosen event), and how
// many came back (any event or a chosen one) in each later period: a heat-map table and a
// line chart of the rates.
import { query } from '../api.js?v=__ASSETS_VERSION__';
import { $, COLORS, bucketLabel, chartSnapshot, drawChart, el, integer, lineDataset, percent } from '../ui.js?v=__ASSETS_VERSION__';

const PERIOD_NAMES = { day: 'Day', week: 'Week', month: 'Month' };

function heat(rate, text) {
  const level = Math.max(0, Math.min(10, Math.round((rate || 0) / 10)));
  return el('td', { className: `num heat-${level}`, textContent: text });
}

function renderTable(result) {
  const width = Math.max(0, ...result.cohorts.map((c) => c.rates.length), result.average.length);
  const name = PERIOD_NAMES[result.period];
  const head = el(
    'tr',
    {},
    el('th', { scope: 'col', textContent: 'Cohort' }),
    el('th', { scope: 'col', className: 'num', textContent: 'Visitors' }),
    ...Array.from({ length: width }, (_, k) => el('th', { scope: 'col', className: 'num', textContent: `${name} ${k}` })),
  );
  const total = result.cohorts.reduce((sum, c) => sum + c.size, 0);
  const average = el(
    'tr',
    { className: 'average' },
    el('th', { scope: 'row', textContent: 'All cohorts' }),
    el('td', { className: 'num', textContent: integer.format(total) }),
    ...result.average.map((rate) => heat(rate, percent(rate))),
  );
  const rows = result.cohorts.map((c) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row', textContent: bucketLabel(c.date, result.period === 'month' ? 'month' : 'day') }),
      el('td', { className: 'num', textContent: integer.format(c.size) }),
      ...c.rates.map((rate, k) => {
        const cell = heat(rate, percent(rate));
        cell.title = `${integer.format(c.retained[k])} of ${integer.format(c.size)}`;
        return cell;
      }),
    ),
  );
  const body = result.cohorts.length
    ? [average, ...rows]
    : [el('tr', {}, el('td', { className: 'empty', colSpan: 2, textContent: 'No data' }))];
  $('retention-table').replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
}

export default {
  id: 'retention',
  title: 'Retention',
  filters: true,
  range: true,

  init(app) {
    $('retention-form').addEventListener('submit', (event) => {
      event.preventDefault();
      app.reload();
    });
  },

  async load(ctx) {
    await ctx.eventNames();
    const body = {
      ...ctx.base(),
      period: $('retention-period').value,
      activity: $('retention-activity').value,
    };
    if ($('retention-start').value) body.startEvent = $('retention-start').value;
    if ($('retention-return').value) body.returnEvent = $('retention-return').value;
    const result = await query('retention', body);
    if (!ctx.current()) return undefined;
    renderTable(result);
    const width = Math.max(0, result.average.length);
    const name = PERIOD_NAMES[result.period];
    const datasets = [lineDataset('All cohorts', result.average, COLORS[0], { borderWidth: 3, tension: 0 })];
    result.cohorts.slice(-6).forEach((c, i) => {
      datasets.push(
        lineDataset(bucketLabel(c.date, result.period === 'month' ? 'month' : 'day'), c.rates, COLORS[(i + 1) % COLORS.length], {
          borderWidth: 1,
          tension: 0,
        }),
      );
    });
    drawChart('retention-chart', {
      type: 'line',
      data: { labels: Array.from({ length: width }, (_, k) => `${name} ${k}`), datasets },
      options: {
        plugins: { legend: { position: 'bottom' } },
        scales: { y: { beginAtZero: true, max: 100, ticks: { callback: (v) => `${v}%` } } },
      },
    });
    return {
      request: body,
      period: result.period,
      cohorts: result.cohorts,
      average: result.average,
      chart: chartSnapshot('retention-chart'),
      grid: [...$('retention-table').querySelectorAll('tbody tr')].map((tr) =>
        [...tr.children].map((c) => c.textContent),
      ),
    };
  },
};
