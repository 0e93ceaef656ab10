// Profiles: the identified profiles active in the date range with an event matching the
// filters (search, pages), and one profile's facts, activity metrics and latest events
// (#/profiles/<id>).
import { query } from '../api.js?v=__ASSETS_VERSION__';
import { $, duration, fillFacts, fillPager, fillTable, integer, when } from '../ui.js?v=__ASSETS_VERSION__';

const LIMIT = 25;
let page = 1;
let shownFor = ''; // the range and filters of the list on screen; a change goes back to page 1

function fullName(p) {
  return [p.firstName, p.lastName].filter(Boolean).join(' ');
}

async function list(ctx) {
  const base = ctx.base();
  const key = JSON.stringify(base);
  if (key !== shownFor) page = 1;
  shownFor = key;
  const body = { ...base, page, limit: LIMIT };
  const search = $('profiles-search').value.trim();
  if (search) body.search = search;
  const result = await query('profiles', body);
  if (!ctx.current()) return undefined;
  $('profiles-count').textContent = `Profiles (${integer.format(result.total)})`;
  fillTable(
    $('profiles-table'),
    [['Profile'], ['Name'], ['Email'], ['First seen'], ['Last seen']],
    result.profiles.map((p) => [p.id, fullName(p) || '–', p.email || '–', when(p.createdAt), when(p.lastSeenAt)]),
    {
      empty: search || base.filters.length ? 'No profile matches.' : 'No identified profile was active in this range.',
      onRow: (i) => ctx.navigate('profiles', result.profiles[i].id),
      rowLabel: (i) => `Open profile ${result.profiles[i].id}`,
    },
  );
  fillPager($('profiles-pager'), { page, limit: LIMIT, total: result.total }, (to) => {
    page = to;
    ctx.reload();
  });
  return {
    mode: 'list',
    range: base.range,
    filters: base.filters,
    search,
    page,
    total: result.total,
    ids: result.profiles.map((p) => p.id),
  };
}

async function detail(ctx, id) {
  const result = await query('profile', { profileId: id, eventsLimit: 50 });
  if (!ctx.current()) return undefined;
  const p = result.profile;
  const m = result.metrics;
  $('profile-name').textContent = p && fullName(p) ? `${fullName(p)} (${id})` : id;
  const props = p ? Object.entries(p.properties).map(([k, v]) => [`properties.${k}`, v]) : [];
  fillFacts($('profile-facts'), [
    ['Profile id', id],
    ['Email', p ? p.email : ''],
    ['Identified', p ? 'yes' : 'no (anonymous device)'],
    ['First seen', when(m.firstSeen)],
    ['Last seen', when(m.lastSeen)],
    ['Events', integer.format(m.events)],
    ['Sessions', integer.format(m.sessions)],
    ['Screen views', integer.format(m.screenViews)],
    ['Revenue', integer.format(m.revenue)],
    ['Average session', duration(m.avgSessionDuration)],
    ...props,
  ]);
  fillTable(
    $('profile-events'),
    [['Time'], ['Event'], ['Page'], ['Country'], ['Browser']],
    result.events.map((e) => [when(e.createdAt), e.name, e.path || '–', e.country || '–', e.browser || '–']),
    { empty: 'No events.' },
  );
  return {
    mode: 'detail',
    profileId: id,
    identified: p !== null,
    email: p ? p.email : null,
    metrics: m,
    events: result.events.map((e) => ({ name: e.name, path: e.path, createdAt: e.createdAt })),
  };
}

export default {
  id: 'profiles',
  title: 'Profiles',
  filters: true,
  range: true,

  init(app) {
    $('profiles-form').addEventListener('submit', (event) => {
      event.preventDefault();
      page = 1;
      app.navigate('profiles');
    });
  },

  async load(ctx) {
    $('profiles-list').hidden = Boolean(ctx.param);
    $('profiles-form').hidden = Boolean(ctx.param);
    $('profile-detail').hidden = !ctx.param;
    return ctx.param ? detail(ctx, ctx.param) : list(ctx);
  },
};
