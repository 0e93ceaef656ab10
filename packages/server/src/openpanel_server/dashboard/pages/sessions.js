// Sessions: aggregates (duration, screen views, bounce rate), entry and exit pages, the session
// list, and one session's events (#/sessions/<id>).
import { query } from '../api.js?v=__ASSETS_VERSION__';
import {
  $,
  duration,
  fillFacts,
  fillPager,
  fillTable,
  integer,
  number,
  percent,
  when,
} from '../ui.js?v=__ASSETS_VERSION__';

const LIMIT = 25;
const EVENTS = 1000; // most events of one session shown
let page = 1;

function topTable(id, rows) {
  fillTable(
    $(id),
    [['Page'], ['Sessions', 'num'], ['Bounce rate', 'num'], ['Duration', 'num']],
    rows.map((r) => [r.value || '(none)', integer.format(r.count), percent(r.bounceRate), duration(r.avgDuration)]),
  );
}

async function overview(ctx) {
  const base = ctx.base();
  const [stats, list, entry, exit] = await Promise.all([
    query('session_stats', base),
    query('sessions', { ...base, page, limit: LIMIT }),
    query('top', { ...base, dimension: 'entry_path', limit: 10 }),
    query('top', { ...base, dimension: 'exit_path', limit: 10 }),
  ]);
  if (!ctx.current()) return undefined;
  $('sessions-count').textContent = integer.format(stats.sessions);
  $('sessions-visitors').textContent = integer.format(stats.visitors);
  $('sessions-duration').textContent = duration(stats.avgDuration);
  $('sessions-bounce').textContent = percent(Math.round(stats.bounceRate));
  $('sessions-views').textContent = number(Math.round(stats.avgScreenViews * 100) / 100);
  $('sessions-events').textContent = number(Math.round(stats.avgEvents * 100) / 100);
  topTable('sessions-entry', entry.rows);
  topTable('sessions-exit', exit.rows);
  $('sessions-list-title').textContent = `Sessions (${integer.format(list.total)})`;
  fillTable(
    $('sessions-table'),
    [['Started'], ['Visitor'], ['Duration', 'num'], ['Screen views', 'num'], ['Entry'], ['Exit'], ['Country'], ['Browser']],
    list.sessions.map((s) => [
      when(s.createdAt),
      s.profileId || s.deviceId,
      duration(s.duration / 1000),
      integer.format(s.screenViewCount),
      s.entryPath || '–',
      s.exitPath || '–',
      s.country || '–',
      s.browser || '–',
    ]),
    {
      onRow: (i) => ctx.navigate('sessions', list.sessions[i].id),
      rowLabel: (i) => `Open session ${list.sessions[i].id}`,
    },
  );
  fillPager($('sessions-pager'), { page, limit: LIMIT, total: list.total }, (to) => {
    page = to;
    ctx.reload();
  });
  return {
    mode: 'list',
    stats,
    entry: entry.rows,
    exit: exit.rows,
    total: list.total,
    sessions: list.sessions.map((s) => ({
      id: s.id,
      profileId: s.profileId,
      entryPath: s.entryPath,
      exitPath: s.exitPath,
      screenViewCount: s.screenViewCount,
      isBounce: s.isBounce,
    })),
  };
}

function eventsTable(events, more) {
  fillTable(
    $('session-events'),
    [['Time'], ['Event'], ['Page']],
    events.map((e) => [when(e.createdAt), e.name, e.path || '–']),
    { empty: 'No events.' },
  );
  $('session-events-more').hidden = !more;
}

async function detail(ctx, id) {
  // The session of any age and its events in order (the date range does not apply).
  const found = await query('session', { sessionId: id, eventsLimit: EVENTS });
  if (!ctx.current()) return undefined;
  const s = found.session;
  const events = found.events;
  const shown = events.map((e) => ({ name: e.name, path: e.path }));
  if (!s) {
    // Not stored yet (a live session is stored when it ends), or no such session.
    const live = events.length > 0;
    $('session-name').textContent = live ? 'Live session (not ended yet)' : 'Session not found';
    const first = events[0];
    fillFacts($('session-facts'), [
      ['Session id', id],
      ...(live ? [['Visitor', first.profileId || first.deviceId], ['Started', when(first.createdAt)]] : []),
    ]);
    eventsTable(events, found.moreEvents);
    return { mode: 'detail', sessionId: id, found: false, live, events: shown };
  }
  $('session-name').textContent = `Session of ${s.profileId || s.deviceId}`;
  fillFacts($('session-facts'), [
    ['Session id', s.id],
    ['Visitor', s.profileId || s.deviceId],
    ['Started', when(s.createdAt)],
    ['Ended', when(s.endedAt)],
    ['Duration', duration(s.duration / 1000)],
    ['Screen views', integer.format(s.screenViewCount)],
    ['Events', integer.format(s.eventCount)],
    ['Bounce', s.isBounce ? 'yes' : 'no'],
    ['Entry page', s.entryPath],
    ['Exit page', s.exitPath],
    ['Referrer', s.referrerName || s.referrer],
    ['Country', s.country],
    ['Browser', s.browser],
    ['OS', s.os],
  ]);
  eventsTable(events, found.moreEvents);
  return { mode: 'detail', sessionId: id, found: true, session: s, events: shown, moreEvents: found.moreEvents };
}

export default {
  id: 'sessions',
  title: 'Sessions',
  filters: true,
  range: true,

  async load(ctx) {
    $('sessions-overview').hidden = Boolean(ctx.param);
    $('session-detail').hidden = !ctx.param;
    return ctx.param ? detail(ctx, ctx.param) : overview(ctx);
  },
};
