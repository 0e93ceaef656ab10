// The OpenPanel dashboard: the overview page (KPIs, visitors/sessions chart, top lists), a date
// range picker and a filter builder. Data comes from this server's /api/analytics/{query} with
// a read client's id and secret, kept in sessionStorage only and sent as headers.
//
// For tests, window.__opDashboard exposes a snapshot of what is on screen (see publish()).

const STORAGE_KEY = 'openpanel.dashboard.credentials';
const RANGES = new Set(['today', '7d', '30d']);
const NO_VALUE = new Set(['isNull', 'isNotNull']);
const TOPS = ['path', 'referrer_name', 'country', 'browser'];

const state = {
  range: '7d',
  filters: [],
  generation: 0, // bumped by every reload; answers of older ones are dropped
  loaded: 0, // the generation on screen
  chart: null,
  view: { kpis: null, series: null, tops: {} },
  error: '',
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ credentials

function readCredentials() {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (parsed && typeof parsed.id === 'string' && typeof parsed.secret === 'string') {
      return parsed;
    }
  } catch {
    // unreadable: treated as logged out
  }
  return null;
}

function saveCredentials(id, secret) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ id, secret }));
}

function forgetCredentials() {
  sessionStorage.removeItem(STORAGE_KEY);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function query(name, body) {
  const credentials = readCredentials();
  if (!credentials) throw new HttpError(401, 'not signed in');
  const response = await fetch(`/api/analytics/${name}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'openpanel-client-id': credentials.id,
      'openpanel-client-secret': credentials.secret,
    },
    body: JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: reported by status below
  }
  if (!response.ok) {
    const fields = data && Array.isArray(data.fields) ? data.fields : [];
    const detail = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
    throw new HttpError(response.status, detail || (data && data.message) || response.statusText);
  }
  return data;
}

// ------------------------------------------------------------------ formatting

const integer = new Intl.NumberFormat('en');

function duration(seconds) {
  const total = Math.round(seconds || 0);
  const minutes = Math.floor(total / 60);
  const rest = String(total % 60).padStart(2, '0');
  return minutes ? `${minutes}m ${rest}s` : `${total}s`;
}

function bucketLabel(iso, interval) {
  // "2026-03-01T14:00:00+00:00": hours for today, days otherwise
  return interval === 'hour' ? iso.slice(11, 16) : iso.slice(5, 10);
}

// ------------------------------------------------------------------ rendering

function renderKpis(metrics) {
  $('kpi-visitors').textContent = integer.format(metrics.visitors);
  $('kpi-sessions').textContent = integer.format(metrics.sessions);
  $('kpi-bounce').textContent = `${Math.round(metrics.bounceRate)}%`;
  $('kpi-duration').textContent = duration(metrics.avgSessionDuration);
}

function renderChart(result) {
  const [visitors, sessions] = result.series;
  const labels = visitors.data.map((point) => bucketLabel(point.date, result.interval));
  const datasets = [
    { label: 'Visitors', data: visitors.data.map((p) => p.count), borderColor: '#2563eb' },
    { label: 'Sessions', data: sessions.data.map((p) => p.count), borderColor: '#16a34a' },
  ].map((d) => ({ ...d, backgroundColor: d.borderColor, tension: 0.25, pointRadius: 2 }));
  if (state.chart) {
    state.chart.data.labels = labels;
    state.chart.data.datasets = datasets;
    state.chart.update();
    return;
  }
  state.chart = new window.Chart($('chart'), {
    type: 'line',
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderTable(dimension, rows) {
  const table = $(`top-${dimension}`);
  const head = document.createElement('tr');
  for (const [text, className] of [['Value'], ['Count', 'num'], ['Visitors', 'num']]) {
    const th = document.createElement('th');
    th.textContent = text;
    if (className) th.className = className;
    head.append(th);
  }
  const body = rows.map((row) => {
    const tr = document.createElement('tr');
    tr.append(
      cell(row.value || '(none)'),
      cell(integer.format(row.count), 'num'),
      cell(integer.format(row.visitors), 'num'),
    );
    return tr;
  });
  if (!body.length) {
    const tr = document.createElement('tr');
    const td = cell('No data', 'empty');
    td.colSpan = 3;
    tr.append(td);
    body.push(tr);
  }
  table.replaceChildren(head, ...body);
}

function renderFilters() {
  const items = state.filters.map((filter, index) => {
    const li = document.createElement('li');
    const label = document.createElement('span');
    const operator = $('filter-operator').querySelector(`option[value="${filter.operator}"]`);
    const value = NO_VALUE.has(filter.operator) ? '' : ` ${filter.value.join(' or ')}`;
    label.textContent = `${filter.name} ${operator ? operator.textContent : filter.operator}${value}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = '×';
    remove.setAttribute('aria-label', `Remove filter ${label.textContent}`);
    remove.addEventListener('click', () => {
      state.filters.splice(index, 1);
      renderFilters();
      reload();
    });
    li.append(label, remove);
    return li;
  });
  $('filter-list').replaceChildren(...items);
}

function renderRanges() {
  for (const button of document.querySelectorAll('[data-range]')) {
    button.setAttribute('aria-pressed', String(button.dataset.range === state.range));
  }
}

function setStatus(text, isError = false) {
  state.error = isError ? text : '';
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function publish() {
  const chart = state.chart;
  window.__opDashboard = {
    generation: state.loaded,
    attempt: state.generation,
    range: state.range,
    filters: structuredClone(state.filters),
    kpis: state.view.kpis,
    chart: chart
      ? {
          labels: [...chart.data.labels],
          datasets: chart.data.datasets.map((d) => ({ label: d.label, data: [...d.data] })),
        }
      : null,
    tops: structuredClone(state.view.tops),
    error: state.error,
  };
}

// ------------------------------------------------------------------ loading

async function reload() {
  const generation = ++state.generation;
  const base = { range: state.range, filters: state.filters };
  const interval = state.range === 'today' ? 'hour' : 'day';
  setStatus('Loading…');
  try {
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
    if (generation !== state.generation) return;
    renderKpis(overview.metrics);
    renderChart(series);
    TOPS.forEach((dimension, i) => renderTable(dimension, tops[i].rows));
    state.view = {
      kpis: overview.metrics,
      series,
      tops: Object.fromEntries(TOPS.map((dimension, i) => [dimension, tops[i].rows])),
    };
    state.loaded = generation;
    setStatus('');
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof HttpError && error.status === 401) {
      forgetCredentials();
      show(false, 'These credentials were refused: use a read client’s id and secret.');
      return;
    }
    setStatus(`Could not load the dashboard: ${error.message}`, true);
  } finally {
    if (generation === state.generation) publish();
  }
}

function show(signedIn, loginError = '') {
  $('login').hidden = signedIn;
  $('overview').hidden = !signedIn;
  $('controls').hidden = !signedIn;
  $('login-error').textContent = loginError;
  if (signedIn) reload();
  else publish();
}

// ------------------------------------------------------------------ wiring

function parseValues(raw) {
  return raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function wire() {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('client-id').value.trim();
    const secret = $('client-secret').value.trim();
    if (!id || !secret) return;
    saveCredentials(id, secret);
    $('client-secret').value = '';
    show(true);
  });
  $('logout').addEventListener('click', () => {
    forgetCredentials();
    show(false);
  });
  for (const button of document.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => {
      if (!RANGES.has(button.dataset.range) || button.dataset.range === state.range) return;
      state.range = button.dataset.range;
      renderRanges();
      reload();
    });
  }
  $('filter-operator').addEventListener('change', () => {
    $('filter-value').disabled = NO_VALUE.has($('filter-operator').value);
  });
  $('filter-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = $('filter-name').value.trim();
    const operator = $('filter-operator').value;
    const value = NO_VALUE.has(operator) ? [] : parseValues($('filter-value').value);
    if (!name || (!NO_VALUE.has(operator) && !value.length)) {
      setStatus('A filter needs a column and a value.', true);
      return;
    }
    state.filters.push({ name, operator, value });
    $('filter-name').value = '';
    $('filter-value').value = '';
    renderFilters();
    reload();
  });
}

function start() {
  if (typeof window.Chart !== 'function') {
    document.body.textContent = 'The chart library did not load.';
    return;
  }
  wire();
  renderRanges();
  show(readCredentials() !== null);
}

// Module scripts run after deferred classic ones (Chart.js) in document order.
try {
  start();
} catch (error) {
  document.body.textContent = `The dashboard could not start: ${error.message}`;
}
