// Live: visitors, sessions and events of the last 30 minutes, events per minute, top pages,
// referrers and countries, with the filters, pushed by the server over SSE
// (GET /api/analytics/realtime/stream, read with fetch since EventSource cannot send the
// credentials headers). A server without the stream (404) is polled instead:
// POST /api/analytics/realtime every 5 seconds.
import { HttpError, query, readEventStream } from '../api.js?v=__ASSETS_VERSION__';
import { $, bucketLabel, chartOf, chartSnapshot, drawChart, fillTable, integer, lineDataset } from '../ui.js?v=__ASSETS_VERSION__';

const MINUTES = 30;
const POLL_MS = 5000;
const RETRY_MS = 3000;

let run = null; // {controller, timer, updates, mode}

function top(id, rows) {
  fillTable(
    $(id),
    [['Value'], ['Visitors', 'num'], ['Events', 'num']],
    rows.map((r) => [r.value || '(none)', integer.format(r.visitors), integer.format(r.events)]),
  );
}

function render(result, mode) {
  $('live-visitors').textContent = integer.format(result.visitors);
  $('live-sessions').textContent = integer.format(result.sessions);
  $('live-events').textContent = integer.format(result.events);
  $('live-mode').textContent = mode === 'stream' ? 'streaming' : 'polling every 5 s';
  const labels = result.minutes.map((m) => bucketLabel(m.date, 'minute'));
  const events = result.minutes.map((m) => m.events);
  const visitors = result.minutes.map((m) => m.visitors);
  const chart = chartOf('live-chart');
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets[0].data = events;
    chart.data.datasets[1].data = visitors;
    chart.update('none');
  } else {
    drawChart('live-chart', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'Events', data: events, backgroundColor: '#2563eb' },
          { ...lineDataset('Visitors', visitors, '#16a34a'), type: 'line' },
        ],
      },
      options: {
        plugins: { legend: { position: 'bottom' } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }
  top('live-pages', result.pages);
  top('live-referrers', result.referrers);
  top('live-countries', result.countries);
}

function view(result, current) {
  return {
    mode: current.mode,
    updates: current.updates,
    visitors: result.visitors,
    sessions: result.sessions,
    events: result.events,
    perMinute: result.minutes.map((m) => m.events),
    pages: result.pages,
    referrers: result.referrers,
    countries: result.countries,
    chart: chartSnapshot('live-chart'),
  };
}

function stop() {
  if (!run) return;
  if (run.first) run.first.reject(new DOMException('left the live view', 'AbortError'));
  run.first = null;
  run.controller.abort();
  clearTimeout(run.timer);
  run = null;
}

function start(ctx) {
  stop();
  const current = { controller: new AbortController(), timer: 0, updates: 0, mode: 'stream', first: null };
  run = current;
  const signal = current.controller.signal;
  const ready = new Promise((resolve, reject) => {
    current.first = { resolve, reject };
  });

  const show = (result) => {
    if (run !== current) return;
    current.updates += 1;
    render(result, current.mode);
    const shown = view(result, current);
    if (current.first) {
      current.first.resolve(shown);
      current.first = null;
    } else {
      ctx.update('live', shown);
    }
  };
  // Before the first data the page's load fails (and says why); after it, the view keeps
  // its last data and tries again, unless the credentials were refused.
  const failed = (error) => {
    if (current.first) {
      current.first.reject(error);
      current.first = null;
      stop();
    } else if (error instanceof HttpError && error.status === 401) {
      $('live-mode').textContent = 'stopped: the credentials were refused';
      stop();
    } else {
      $('live-mode').textContent = `reconnecting (${error.message})`;
    }
  };

  const poll = async () => {
    if (run !== current) return;
    try {
      show(await query('realtime', { minutes: MINUTES, filters: ctx.filters }, signal));
    } catch (error) {
      if (signal.aborted) return;
      failed(error);
    }
    if (run === current) current.timer = setTimeout(poll, POLL_MS);
  };

  const stream = async () => {
    if (run !== current) return;
    try {
      const params = new URLSearchParams({ minutes: String(MINUTES), interval: '2' });
      if (ctx.filters.length) params.set('filters', JSON.stringify(ctx.filters));
      await readEventStream(
        `/api/analytics/realtime/stream?${params}`,
        (name, data) => {
          if (name === 'realtime') show(JSON.parse(data));
        },
        signal,
      );
      // The server closed the stream: connect again.
      if (run === current) current.timer = setTimeout(stream, RETRY_MS);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof HttpError && (error.status === 404 || error.status === 405)) {
        current.mode = 'polling';
        poll();
        return;
      }
      failed(error);
      if (run === current) current.timer = setTimeout(stream, RETRY_MS);
    }
  };

  stream();
  return ready;
}

export default {
  id: 'live',
  title: 'Live',
  filters: true,
  range: false,

  load(ctx) {
    return start(ctx);
  },

  leave() {
    stop();
  },
};
