// DOM and chart helpers shared by the pages. Data only ever reaches the page as text
// (textContent, attribute values), never parsed as HTML.

export const $ = (id) => document.getElementById(id);

/** An element with properties (className, textContent, hidden...) or attributes (aria-*, data-*). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('aria-') || key.startsWith('data-') || key === 'role' || key === 'scope') {
      node.setAttribute(key, String(value));
    } else {
      node[key] = value;
    }
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// ------------------------------------------------------------------ formatting

export const integer = new Intl.NumberFormat('en');
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

export function number(value) {
  return Number.isInteger(value) ? integer.format(value) : decimal.format(value || 0);
}

export function percent(value) {
  return `${decimal.format(value || 0)}%`;
}

export function duration(seconds) {
  if (seconds > 0 && seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const total = Math.round(seconds || 0);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = String(total % 60).padStart(2, '0');
  if (hours) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  return minutes ? `${minutes}m ${rest}s` : `${total}s`;
}

/** "2026-03-01T14:05:00+00:00" as a label for its interval. */
export function bucketLabel(iso, interval) {
  if (interval === 'minute' || interval === 'hour') return iso.slice(11, 16);
  if (interval === 'month') return iso.slice(0, 7);
  return iso.slice(5, 10);
}

/** An ISO time as "2026-03-01 14:05:09" (UTC, as the API answers). */
export function when(iso) {
  if (!iso) return '–';
  return String(iso).replace('T', ' ').replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, '');
}

// ------------------------------------------------------------------ tables

/**
 * Fill a <table>: columns are [label, className?]; rows are arrays of cells (text, or a Node,
 * or {text, className}). `onRow(index)` makes rows clickable links (keyboard too).
 */
export function fillTable(table, columns, rows, { empty = 'No data', onRow, rowLabel } = {}) {
  const head = el(
    'tr',
    {},
    ...columns.map(([label, className]) => el('th', { scope: 'col', className, textContent: label })),
  );
  const body = rows.map((cells, index) => {
    const tr = el(
      'tr',
      {},
      ...cells.map((value, i) => {
        const className = columns[i] && columns[i][1];
        if (value instanceof Node) return el('td', { className }, value);
        if (value && typeof value === 'object') {
          return el('td', { className: [className, value.className].filter(Boolean).join(' '), textContent: value.text });
        }
        return el('td', { className, textContent: value === '' ? '(none)' : String(value) });
      }),
    );
    if (onRow) {
      tr.className = 'link';
      tr.tabIndex = 0;
      tr.setAttribute('role', 'link');
      if (rowLabel) tr.setAttribute('aria-label', rowLabel(index));
      tr.addEventListener('click', () => onRow(index));
      tr.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onRow(index);
        }
      });
    }
    return tr;
  });
  if (!body.length) {
    body.push(el('tr', {}, el('td', { className: 'empty', colSpan: columns.length, textContent: empty })));
  }
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...body));
}

/** A definition list of [term, value] pairs. */
export function fillFacts(dl, pairs) {
  dl.replaceChildren(
    ...pairs.flatMap(([term, value]) => [
      el('dt', { textContent: term }),
      el('dd', { textContent: value === '' || value === null || value === undefined ? '–' : String(value) }),
    ]),
  );
}

/** Previous / next buttons for a paged list. */
export function fillPager(container, { page, limit, total }, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const previous = el('button', { type: 'button', className: 'secondary', textContent: 'Previous', disabled: page <= 1 });
  const next = el('button', { type: 'button', className: 'secondary', textContent: 'Next', disabled: page >= pages });
  previous.addEventListener('click', () => go(page - 1));
  next.addEventListener('click', () => go(page + 1));
  container.replaceChildren(previous, el('span', { textContent: `Page ${page} of ${pages}` }), next);
}

// ------------------------------------------------------------------ charts

export const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#db2777', '#65a30d', '#475569', '#ca8a04'];

const charts = new Map();

/** Draw (or redraw) the Chart.js chart of a canvas. */
export function drawChart(canvasId, config) {
  const old = charts.get(canvasId);
  if (old) old.destroy();
  const chart = new window.Chart($(canvasId), {
    ...config,
    options: { animation: false, maintainAspectRatio: false, ...config.options },
  });
  charts.set(canvasId, chart);
  return chart;
}

export function chartOf(canvasId) {
  return charts.get(canvasId) || null;
}

/** What a chart shows, for the test snapshot. */
export function chartSnapshot(canvasId) {
  const chart = charts.get(canvasId);
  if (!chart) return null;
  return {
    type: chart.config.type,
    labels: [...(chart.data.labels || [])],
    datasets: chart.data.datasets.map((d) => ({
      label: d.label,
      data: structuredClone(d.data),
    })),
  };
}

export function lineDataset(label, data, color, extra = {}) {
  return { label, data, borderColor: color, backgroundColor: color, tension: 0.25, pointRadius: 2, ...extra };
}
