// The OpenPanel dashboard: a sign-in form, a nav of pages routed by the URL hash (#/events,
// #/profiles/<id>...), one date range and one filter builder shared by the pages that use them.
// Data comes from this server's APIs with a read (or root) client's id and secret, kept in
// sessionStorage only and sent as headers (see api.js). Each page is a module of pages/.
// /api/me says which kind of client signed in: actions only a root client may take (saving,
// updating and deleting cohorts, redelivering webhooks) are shown to root clients only, and
// read clients see a short note instead.
//
// For tests, window.__opDashboard exposes a snapshot of what is on screen (see publish()).

import {
  forgetCredentials,
  getJson,
  HttpError,
  postJson,
  query,
  readCredentials,
  saveCredentials,
  sendJson,
  whoAmI,
} from './api.js?v=__ASSETS_VERSION__';
import { $, el } from './ui.js?v=__ASSETS_VERSION__';
import overview from './pages/overview.js?v=__ASSETS_VERSION__';
import events from './pages/events.js?v=__ASSETS_VERSION__';
import funnel from './pages/funnel.js?v=__ASSETS_VERSION__';
import retention from './pages/retention.js?v=__ASSETS_VERSION__';
import paths from './pages/paths.js?v=__ASSETS_VERSION__';
import profiles from './pages/profiles.js?v=__ASSETS_VERSION__';
import sessions from './pages/sessions.js?v=__ASSETS_VERSION__';
import live from './pages/live.js?v=__ASSETS_VERSION__';
import webhooks from './pages/webhooks.js?v=__ASSETS_VERSION__';

const PAGES = new Map(
  [overview, events, funnel, retention, paths, profiles, sessions, live, webhooks].map((p) => [p.id, p]),
);
const RANGES = new Set(['today', '7d', '30d', '3m']);
const NO_VALUE = new Set(['isNull', 'isNotNull']);
const NAMES_TTL_MS = 30_000;
const REFUSED = 'These credentials were refused: use a read or root client’s id and secret.';

const state = {
  signedIn: false,
  page: 'overview',
  param: '',
  range: '7d',
  filters: [],
  generation: 0, // bumped by every load; answers of older ones are dropped
  loaded: 0, // the generation on screen
  views: {}, // page id -> what it shows (plain data)
  error: '',
  names: { at: 0, list: [], pending: null },
  cohorts: null, // saved cohorts ([{id, name, definition...}]); null: not loaded or no API
  me: null, // /api/me: {clientId, clientType, projectId, projectName, timezone}; null: unknown
  signIn: 0, // bumped by every sign-in and sign-out; answers of older ones are dropped
};

/** Whether the signed-in client may take root-only actions (unknown: no). */
function isRoot() {
  return Boolean(state.me && state.me.clientType === 'root');
}

// ------------------------------------------------------------------ the context pages get

function context(generation) {
  return {
    range: state.range,
    filters: structuredClone(state.filters),
    param: state.param,
    base: () => ({ range: state.range, filters: structuredClone(state.filters) }),
    current: () => generation === state.generation,
    eventNames,
    isRoot,
    navigate,
    reload,
    update: (id, view) => {
      state.views[id] = view;
      publish();
    },
  };
}

/** The project's event names (most frequent first), for the event pickers; cached briefly. */
async function eventNames() {
  const names = state.names;
  if (Date.now() - names.at < NAMES_TTL_MS) return names.list;
  if (!names.pending) {
    // Every name the project has (any age), most frequent first.
    names.pending = query('event_names', { limit: 1000 })
      .then((result) => {
        names.list = result.names.map((n) => n.name);
        names.at = Date.now();
        return names.list;
      })
      .finally(() => {
        names.pending = null;
      });
  }
  const list = await names.pending;
  fillNameSelects(list);
  return list;
}

function fillNameSelects(list) {
  for (const select of document.querySelectorAll('select.event-names')) {
    const chosen = select.value;
    const options = [el('option', { value: '', textContent: select.dataset.any || 'Any event' })];
    for (const name of list) options.push(el('option', { value: name, textContent: name }));
    select.replaceChildren(...options);
    select.value = list.includes(chosen) ? chosen : '';
  }
}

// ------------------------------------------------------------------ status and snapshot

function setStatus(text, isError = false) {
  state.error = isError ? text : '';
  $('status').textContent = text;
  $('status').hidden = text === '';
  $('status').classList.toggle('error', isError);
}

function publish() {
  const view = state.views.overview || {};
  window.__opDashboard = {
    generation: state.loaded,
    attempt: state.generation,
    page: state.page,
    param: state.param,
    range: state.range,
    filters: structuredClone(state.filters),
    cohorts: state.cohorts ? state.cohorts.map((c) => ({ id: c.id, name: c.name })) : null,
    cohortMessage: $('cohort-message').textContent,
    client: state.me ? { type: state.me.clientType, projectName: state.me.projectName } : null,
    rootActions: isRoot(),
    // The overview's data (kept at the top level, as before the other pages existed).
    kpis: view.kpis || null,
    chart: view.chart || null,
    tops: view.tops || {},
    views: structuredClone(state.views),
    error: state.error,
  };
}

// ------------------------------------------------------------------ routing and loading

function parseHash() {
  const [, page = '', ...rest] = window.location.hash.split('/');
  const id = PAGES.has(page) ? page : 'overview';
  let param = '';
  try {
    param = decodeURIComponent(rest.join('/'));
  } catch {
    param = '';
  }
  return { id, param };
}

function navigate(page, param = '') {
  const hash = `#/${page}${param ? `/${encodeURIComponent(param)}` : ''}`;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function route() {
  if (!state.signedIn) return;
  const { id, param } = parseHash();
  const before = PAGES.get(state.page);
  if (before && (before.id !== id || state.param !== param) && before.leave) before.leave();
  state.page = id;
  state.param = param;
  const page = PAGES.get(id);
  for (const p of PAGES.values()) $(p.id).hidden = p.id !== id;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  $('filters').hidden = !page.filters;
  $('ranges').hidden = !page.range;
  document.title = `${page.title} · OpenPanel dashboard`;
  reload();
}

async function reload() {
  const generation = ++state.generation;
  const page = PAGES.get(state.page);
  setStatus('Loading…');
  publish();
  try {
    const view = await page.load(context(generation));
    if (generation !== state.generation) return;
    if (view !== undefined) state.views[page.id] = view;
    state.loaded = generation;
    setStatus('');
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof HttpError && error.status === 401) {
      forgetCredentials();
      show(false, REFUSED);
      return;
    }
    setStatus(`Could not load the ${page.title.toLowerCase()}: ${error.message}`, true);
  } finally {
    if (generation === state.generation) publish();
  }
}

function show(signedIn, loginError = '') {
  state.signedIn = signedIn;
  $('login').hidden = signedIn;
  $('controls').hidden = !signedIn;
  $('nav').hidden = !signedIn;
  $('login-error').textContent = loginError;
  const signIn = ++state.signIn;
  if (signedIn) {
    loadMe(signIn).then((ok) => {
      if (!ok || signIn !== state.signIn) return;
      route();
      loadCohorts();
    });
    return;
  }
  const page = PAGES.get(state.page);
  if (page && page.leave) page.leave();
  state.generation += 1; // answers still on their way are dropped
  state.views = {};
  state.names = { at: 0, list: [], pending: null };
  state.cohorts = null;
  state.me = null;
  renderRole();
  state.filters = []; // another client may be of another project
  renderFilters();
  cohortMessage('');
  for (const p of PAGES.values()) $(p.id).hidden = true;
  $('filters').hidden = true;
  setStatus('');
  publish();
}

// ------------------------------------------------------------------ who is signed in

/** Ask /api/me who signed in; false when the credentials were refused (signed out again). */
async function loadMe(signIn) {
  let me = null;
  try {
    me = await whoAmI();
  } catch (error) {
    if (signIn !== state.signIn) return false;
    if (error instanceof HttpError && error.status === 401) {
      forgetCredentials();
      show(false, REFUSED);
      return false;
    }
    // Not known (network trouble): the pages still load, root-only actions stay hidden.
  }
  if (signIn !== state.signIn) return false;
  state.me = me;
  renderRole();
  publish();
  return true;
}

/** Show root-only actions to root clients only, and the notes about them to the others. */
function renderRole() {
  const root = isRoot();
  for (const node of document.querySelectorAll('[data-root-only]')) node.hidden = !root;
  for (const node of document.querySelectorAll('[data-read-note]')) node.hidden = root;
  const me = state.me;
  $('whoami').textContent = me ? `${me.projectName} · ${me.clientType} client` : '';
}

// ------------------------------------------------------------------ filters and ranges

const OPERATOR_LABELS = Object.fromEntries(
  [...document.querySelectorAll('#filter-operator option')].map((o) => [o.value, o.textContent]),
);

function renderFilters() {
  const items = state.filters.map((filter, index) => {
    const label = el('span', { textContent: filterLabel(filter) });
    const remove = el('button', {
      type: 'button',
      className: 'secondary',
      textContent: '×',
      'aria-label': `Remove filter ${label.textContent}`,
    });
    remove.addEventListener('click', () => {
      state.filters.splice(index, 1);
      renderFilters();
      reload();
    });
    return el('li', {}, label, remove);
  });
  $('filter-list').replaceChildren(...items);
}

function filterLabel(filter) {
  if (filter.name === 'cohort') {
    const names = filter.value.map((id) => {
      const found = (state.cohorts || []).find((c) => c.id === id);
      return found ? found.name : id;
    });
    return `${filter.operator === 'notInCohort' ? 'not in cohort' : 'in cohort'} ${names.join(' or ')}`;
  }
  const value = NO_VALUE.has(filter.operator) ? '' : ` ${filter.value.join(' or ')}`;
  return `${filter.name} ${OPERATOR_LABELS[filter.operator] || filter.operator}${value}`;
}

// ------------------------------------------------------------------ saved cohorts

function cohortMessage(text, isError = false) {
  $('cohort-message').textContent = text;
  $('cohort-message').classList.toggle('error', isError);
}

function renderCohorts() {
  const list = state.cohorts || [];
  $('cohort-form').hidden = state.cohorts === null;
  const options = list.length
    ? list.map((c) => el('option', { value: c.id, textContent: c.name }))
    : [el('option', { value: '', textContent: 'No saved cohorts yet' })];
  const chosen = $('cohort-picker').value;
  $('cohort-picker').replaceChildren(...options);
  if (list.some((c) => c.id === chosen)) $('cohort-picker').value = chosen;
  $('cohort-add').disabled = !list.length;
  $('cohort-update').disabled = !list.length;
  $('cohort-delete').disabled = !list.length;
}

async function loadCohorts() {
  try {
    const cohorts = (await getJson('/api/cohorts')).cohorts;
    if (!state.signedIn) return;
    state.cohorts = cohorts;
  } catch (error) {
    if (!state.signedIn) return;
    // A server without saved cohorts (404) gets no cohort controls; a refused secret (401)
    // is reported by the page's own load.
    state.cohorts = null;
    if (!(error instanceof HttpError && (error.status === 404 || error.status === 401))) {
      cohortMessage(`Could not read the saved cohorts: ${error.message}`, true);
    }
  }
  renderCohorts();
  renderFilters();
  publish();
}

async function saveCohort() {
  const name = $('cohort-name').value.trim();
  if (!name) {
    cohortMessage('Give the new cohort a name.', true);
    publish();
    return;
  }
  const definition = { range: state.range, filters: structuredClone(state.filters) };
  try {
    const saved = await postJson('/api/cohorts', { name, definition });
    $('cohort-name').value = '';
    await loadCohorts();
    $('cohort-picker').value = saved.id;
    cohortMessage(`Saved cohort “${saved.name}”: the visitors matching these filters (${state.range}).`);
  } catch (error) {
    // Only root clients see the button; a refusal (403: the client changed since) is shown.
    cohortMessage(`Could not save the cohort: ${error.message}`, true);
  }
  publish();
}

function chosenCohort() {
  const id = $('cohort-picker').value;
  return (state.cohorts || []).find((c) => c.id === id) || null;
}

/** Replace the chosen cohort's definition with the current range and filters (root only). */
async function updateCohort() {
  const cohort = chosenCohort();
  if (!cohort) return;
  const definition = { range: state.range, filters: structuredClone(state.filters) };
  try {
    const path = `/api/cohorts/${encodeURIComponent(cohort.id)}`;
    const saved = await sendJson('PUT', path, { name: cohort.name, definition });
    await loadCohorts();
    $('cohort-picker').value = saved.id;
    cohortMessage(`Updated cohort “${saved.name}”: the visitors matching these filters (${state.range}).`);
  } catch (error) {
    cohortMessage(`Could not update the cohort: ${error.message}`, true);
  }
  publish();
}

/** Delete the chosen cohort (root only); filters naming it are removed. */
async function deleteCohort() {
  const cohort = chosenCohort();
  if (!cohort || !window.confirm(`Delete the cohort “${cohort.name}”?`)) return;
  try {
    await sendJson('DELETE', `/api/cohorts/${encodeURIComponent(cohort.id)}`);
  } catch (error) {
    // 409: another cohort's filters use it.
    cohortMessage(`Could not delete the cohort: ${error.message}`, true);
    publish();
    return;
  }
  const kept = state.filters.filter((f) => !(f.name === 'cohort' && f.value.includes(cohort.id)));
  const changed = kept.length !== state.filters.length;
  state.filters = kept;
  await loadCohorts();
  cohortMessage(`Deleted cohort “${cohort.name}”.`);
  publish();
  if (changed) reload();
}

function renderRanges() {
  for (const button of document.querySelectorAll('[data-range]')) {
    button.setAttribute('aria-pressed', String(button.dataset.range === state.range));
  }
}

function parseValues(raw) {
  return raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

// ------------------------------------------------------------------ wiring

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
  $('cohort-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('cohort-picker').value;
    if (!id) return;
    state.filters.push({ name: 'cohort', operator: $('cohort-operator').value, value: [id] });
    renderFilters();
    reload();
  });
  $('cohort-save').addEventListener('click', () => saveCohort());
  $('cohort-update').addEventListener('click', () => updateCohort());
  $('cohort-delete').addEventListener('click', () => deleteCohort());
  window.addEventListener('hashchange', route);
  for (const page of PAGES.values()) {
    if (page.init) page.init({ reload: () => reload(), navigate });
  }
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

// Module scripts run after deferred classic ones (Chart.js, the sankey plugin) in order.
try {
  start();
} catch (error) {
  document.body.textContent = `The dashboard could not start: ${error.message}`;
}
