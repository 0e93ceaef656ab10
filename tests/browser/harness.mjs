// Shared by the driver scripts: config from stdin, a watchdog, a browser context on the shared
// Chromium, a recorder of the /track traffic (with CORS preflights), and the JSON output.
import { chromium } from 'playwright-core';

export async function readConfig() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export function output(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

// The scenario's own deadline: fail with what was seen so far rather than hang.
export function watchdog(ms, describe) {
  const timer = setTimeout(() => {
    process.stderr.write(`driver timed out after ${ms} ms; seen so far:\n${describe()}\n`);
    process.exit(3);
  }, ms);
  timer.unref();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Headless Chromium says "HeadlessChrome" in its user agent, which the ingestion server (as
// OpenPanel) refuses as a bot with a 202. Tests browse as the same Chromium, headful-named.
export function desktopUserAgent(version) {
  return (
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    `Chrome/${version.split('.')[0]}.0.0.0 Safari/537.36`
  );
}

export async function openContext(config) {
  const browser = await chromium.connect(config.wsEndpoint, { timeout: 15000 });
  const context = await browser.newContext({
    userAgent: desktopUserAgent(browser.version()),
    locale: 'en-GB',
  });
  context.setDefaultTimeout(10000);
  context.setDefaultNavigationTimeout(10000);
  return { browser, context };
}

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// Records every request to a ".../track" URL from the page's DevTools network events: method,
// url, request headers, JSON body, and the answer (status, body, access-control-allow-origin),
// plus the CORS preflights. DevTools, not Playwright's request events: those show no
// preflights, and lose the answer of a keepalive fetch that outlives its page (a click that
// navigates). And no page.route anywhere: with request interception on, Playwright answers
// preflights itself and the server would never see them.
export async function recordTracks(context, page) {
  const tracks = [];
  const byId = new Map();
  const preflights = new Map();
  const pageErrors = [];
  const consoleErrors = [];
  const isTrack = (url) => /\/track(\?|$)/.test(url);

  page.on('pageerror', (error) => pageErrors.push(String(error && error.stack ? error.stack : error)));
  page.on('console', (msg) => {
    // The browser's own favicon request is not the page's business.
    const where = (msg.location() || {}).url || '';
    if (msg.type() === 'error' && !where.endsWith('/favicon.ico')) {
      consoleErrors.push(`${msg.text()} (${where})`);
    }
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (event) => {
    const { request, requestId } = event;
    if (!isTrack(request.url)) return;
    if (request.method === 'OPTIONS') {
      preflights.set(requestId, { url: request.url, requestHeaders: request.headers, status: null, responseHeaders: null });
      return;
    }
    const record = {
      method: request.method,
      url: request.url,
      pageUrl: event.documentURL,
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
      body: tryJson(request.postData || ''),
      status: null,
      response: null,
      allowOrigin: null,
      failure: null,
      // A keepalive fetch outlives its page (a click that navigates): the server gets it, but
      // DevTools may report nothing more about it once the next document has loaded.
      orphaned: false,
      settled: false,
    };
    tracks.push(record);
    byId.set(requestId, record);
  });
  page.on('load', () => {
    const current = page.url();
    for (const record of tracks) {
      if (!record.settled && record.pageUrl !== current) {
        record.orphaned = true;
        record.settled = true;
      }
    }
  });
  cdp.on('Network.responseReceived', (event) => {
    const preflight = preflights.get(event.requestId);
    if (preflight) {
      preflight.status = event.response.status;
      preflight.responseHeaders = event.response.headers;
    }
    const record = byId.get(event.requestId);
    if (record) {
      record.status = event.response.status;
      const headers = Object.fromEntries(Object.entries(event.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
      record.allowOrigin = headers['access-control-allow-origin'] || null;
    }
  });
  cdp.on('Network.loadingFinished', async (event) => {
    const record = byId.get(event.requestId);
    if (!record) return;
    try {
      const { body } = await cdp.send('Network.getResponseBody', { requestId: event.requestId });
      record.response = tryJson(body);
    } catch {
      // the body of a request whose page is gone may be unavailable
    }
    record.orphaned = false;
    record.settled = true;
  });
  cdp.on('Network.loadingFailed', (event) => {
    const record = byId.get(event.requestId);
    if (!record) return;
    record.failure = event.errorText || 'failed';
    record.orphaned = false;
    record.settled = true;
  });

  const inFlight = () => tracks.filter((t) => !t.settled).length;

  return {
    tracks,
    pageErrors,
    consoleErrors,
    preflights: () => [...preflights.values()],
    // Waits until `predicate(tracks)` holds and nothing is in flight.
    async until(predicate, what, timeout = 8000) {
      const deadline = Date.now() + timeout;
      while (!(predicate(tracks) && inFlight() === 0)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; tracks: ${JSON.stringify(tracks.map(summary))}`);
        }
        await sleep(20);
      }
    },
    // Waits until no request has started or finished for `quietMs`.
    async quiet(quietMs = 300, timeout = 8000) {
      const deadline = Date.now() + timeout;
      let seen = -1;
      let since = Date.now();
      while (Date.now() < deadline) {
        const now = tracks.length * 1000 + inFlight();
        if (now !== seen) {
          seen = now;
          since = Date.now();
        } else if (inFlight() === 0 && Date.now() - since >= quietMs) {
          return;
        }
        await sleep(20);
      }
      throw new Error(`track requests still in flight after ${timeout} ms`);
    },
  };
}

export function summary(track) {
  const body = track.body || {};
  const payload = body.payload || {};
  return `${track.method} ${body.type || '?'}:${payload.name || ''} -> ${track.status}`;
}

// The events of one kind ({type, payload}) in the order they were sent.
export function sent(tracks, type, name) {
  return tracks.filter(
    (t) => t.method === 'POST' && t.body && t.body.type === type && (!name || t.body.payload.name === name),
  );
}
