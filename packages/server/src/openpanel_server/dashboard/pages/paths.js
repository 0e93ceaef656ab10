// Paths: page-to-page flows as a sankey chart (chartjs-chart-sankey) and the top page
// sequences with the average time between their steps.
import { query } from '../api.js?v=__ASSETS_VERSION__';
import { $, COLORS, chartSnapshot, drawChart, duration, el, fillTable, integer } from '../ui.js?v=__ASSETS_VERSION__';


function sequence(seq) {
  const parts = [];
  seq.paths.forEach((path, i) => {
    if (i > 0) parts.push(el('span', { className: 'gap', textContent: ` → ${duration(seq.avgSecondsBetween[i - 1])} → ` }));
    parts.push(el('code', { textContent: path || '(none)' }));
  });
  return el('span', { className: 'sequence' }, ...parts);
}

export default {
  id: 'paths',
  title: 'Paths',
  filters: true,
  range: true,

  init(app) {
    $('paths-form').addEventListener('submit', (event) => {
      event.preventDefault();
      app.reload();
    });
  },

  async load(ctx) {
    const body = {
      ...ctx.base(),
      steps: Math.min(10, Math.max(2, Number($('paths-steps').value) || 4)),
      collapseRepeats: $('paths-collapse').checked,
    };
    const start = $('paths-start').value.trim();
    if (start) body.startPath = start;
    const [sankey, paths] = await Promise.all([
      query('sankey', { ...body, byStep: true, limit: 20 }),
      query('paths', { ...body, limit: 20 }),
    ]);
    if (!ctx.current()) return undefined;

    const labels = {};
    const column = {};
    for (const node of sankey.nodes) {
      const key = `${node.step}|${node.path}`;
      labels[key] = node.path || '(none)';
      column[key] = node.step - 1;
    }
    const colors = new Map(); // a colour per page, in order of appearance
    for (const node of sankey.nodes) {
      if (!colors.has(node.path)) colors.set(node.path, COLORS[colors.size % COLORS.length]);
    }
    const colorOf = (key) => colors.get(key.slice(key.indexOf('|') + 1)) || COLORS[0];
    const flows = sankey.links.map((l) => ({
      from: `${l.step}|${l.source}`,
      to: `${l.step + 1}|${l.target}`,
      flow: l.count,
    }));
    drawChart('paths-chart', {
      type: 'sankey',
      data: {
        datasets: [
          {
            label: 'Sessions',
            data: flows,
            labels,
            column,
            colorFrom: (c) => colorOf(c.raw.from),
            colorTo: (c) => colorOf(c.raw.to),
            colorMode: 'gradient',
            size: 'max',
          },
        ],
      },
      options: { plugins: { legend: { display: false } } },
    });
    fillTable(
      $('paths-table'),
      [['Path'], ['Sessions', 'num']],
      paths.sequences.map((s) => [sequence(s), integer.format(s.count)]),
    );
    return {
      request: body,
      links: sankey.links,
      nodes: sankey.nodes,
      sequences: paths.sequences,
      chart: chartSnapshot('paths-chart'),
      table: [...$('paths-table').querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((c) => c.textContent)),
    };
  },
};
