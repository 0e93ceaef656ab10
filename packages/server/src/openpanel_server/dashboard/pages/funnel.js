// Funnel: ordered steps chosen from the event names, a conversion window, per-step counts and
// conversion rates (a bar chart and a table), optionally broken down.
import { query } from '../api.js?v=__ASSETS_VERSION__';
import { $, COLORS, chartSnapshot, drawChart, el, fillTable, integer, percent } from '../ui.js?v=__ASSETS_VERSION__';

const MAX_STEPS = 10;
let steps = ['', ''];
let names = [];

function renderSteps() {
  const items = steps.map((chosen, index) => {
    const select = el('select', { id: `funnel-step-${index + 1}`, 'aria-label': `Step ${index + 1}` });
    select.append(el('option', { value: '', textContent: 'Choose an event' }));
    const known = chosen && !names.includes(chosen) ? [chosen, ...names] : names;
    for (const name of known) select.append(el('option', { value: name, textContent: name }));
    select.value = chosen;
    select.addEventListener('change', () => {
      steps[index] = select.value;
    });
    const remove = el('button', {
      type: 'button',
      className: 'secondary',
      textContent: '×',
      disabled: steps.length <= 2,
      'aria-label': `Remove step ${index + 1}`,
    });
    remove.addEventListener('click', () => {
      steps.splice(index, 1);
      renderSteps();
    });
    return el('li', {}, select, remove);
  });
  $('funnel-steps').replaceChildren(...items);
  $('funnel-add').disabled = steps.length >= MAX_STEPS;
}

export default {
  id: 'funnel',
  title: 'Funnel',
  filters: true,
  range: true,

  init(app) {
    renderSteps();
    $('funnel-add').addEventListener('click', () => {
      if (steps.length < MAX_STEPS) steps.push('');
      renderSteps();
    });
    $('funnel-form').addEventListener('submit', (event) => {
      event.preventDefault();
      app.reload();
    });
  },

  async load(ctx) {
    names = await ctx.eventNames();
    renderSteps();
    const chosen = steps.filter((s) => s !== '');
    if (chosen.length < 2) {
      fillTable($('funnel-table'), [['Step']], [], { empty: 'Choose at least two steps, then Apply.' });
      drawChart('funnel-chart', { type: 'bar', data: { labels: [], datasets: [] } });
      $('funnel-breakdowns-card').hidden = true;
      return { steps: [], chart: chartSnapshot('funnel-chart'), breakdowns: [] };
    }
    const body = {
      ...ctx.base(),
      steps: chosen.map((name) => ({ name })),
      windowHours: Number($('funnel-window').value) || 24,
      group: $('funnel-group').value,
    };
    const breakdown = $('funnel-breakdown').value.trim();
    if (breakdown) body.breakdowns = [{ name: breakdown }];
    const result = await query('funnel', body);
    if (!ctx.current()) return undefined;

    const labels = result.steps.map((s, i) => `${i + 1}. ${s.name}`);
    const datasets = [
      {
        label: $('funnel-group').value === 'session' ? 'Sessions' : 'Visitors',
        data: result.steps.map((s) => s.count),
        backgroundColor: COLORS[0],
      },
    ];
    result.breakdowns.forEach((group, i) => {
      datasets.push({
        label: group.breakdown.map((v) => v || '(none)').join(' / '),
        data: group.steps.map((s) => s.count),
        backgroundColor: COLORS[(i + 1) % COLORS.length],
      });
    });
    drawChart('funnel-chart', {
      type: 'bar',
      data: { labels, datasets },
      options: {
        plugins: { legend: { display: datasets.length > 1, position: 'bottom' } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    fillTable(
      $('funnel-table'),
      [['Step'], ['Count', 'num'], ['Conversion', 'num'], ['From previous', 'num'], ['Dropped', 'num']],
      result.steps.map((s, i) => [
        labels[i],
        integer.format(s.count),
        percent(s.conversion),
        percent(s.conversionFromPrevious),
        integer.format(s.dropoff),
      ]),
    );
    $('funnel-breakdowns-card').hidden = !result.breakdowns.length;
    fillTable(
      $('funnel-breakdowns'),
      [['Group'], ...labels.map((l) => [l, 'num']), ['Conversion', 'num']],
      result.breakdowns.map((g) => [
        g.breakdown.map((v) => v || '(none)').join(' / '),
        ...g.steps.map((s) => integer.format(s.count)),
        percent(g.totalConversion),
      ]),
    );
    return {
      request: body,
      steps: result.steps,
      totalConversion: result.totalConversion,
      breakdowns: result.breakdowns.map((g) => ({
        breakdown: g.breakdown,
        counts: g.steps.map((s) => s.count),
      })),
      chart: chartSnapshot('funnel-chart'),
    };
  },
};
