// The script-tag install: the init snippet queues calls before the tracker script loads.
//
// Config: {apiUrl, clientId, origin, userAgent, pageUrl, profileId, tag}.
// Output: {requests: [...], deviceId, sessionId, trackerPath}.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getInitSnippet } from '@openpanel/web';
import { JSDOM } from 'jsdom';
import { instrumentFetch, output, readConfig } from './harness.mjs';

const config = readConfig();
// The IIFE bundle served as op1.js; the package exports only ".", so find it next to index.js.
const trackerPath = fileURLToPath(
  new URL('./src/tracker.global.js', import.meta.resolve('@openpanel/web')),
);

const dom = new JSDOM(
  '<!doctype html><html><head><title>Queue</title></head><body><h1>Queue</h1></body></html>',
  { url: config.pageUrl, runScripts: 'dangerously', pretendToBeVisual: true },
);
const { window } = dom;
// Node's fetch sends neither Origin nor a browser User-Agent: add what the browser would send.
// Requests are serialized so that the server receives them in the order they were made.
const recorder = instrumentFetch(globalThis.fetch.bind(globalThis), {
  extraHeaders: { origin: config.origin, 'user-agent': config.userAgent },
  serialize: true,
});
window.fetch = recorder.fetch;

function addScript(text) {
  const script = window.document.createElement('script');
  script.textContent = text;
  window.document.head.appendChild(script);
}

const init = {
  clientId: config.clientId,
  apiUrl: config.apiUrl,
  trackScreenViews: true,
};
const { tag, profileId } = config;
// 1. The page's inline snippet and the calls it makes before the tracker has loaded.
addScript(getInitSnippet());
addScript(`
  window.op('init', ${JSON.stringify(init)});
  window.op('track', 'queued_first_${tag}', { step: 1 });
  window.op.identify({ profileId: '${profileId}', firstName: 'Quinn', email: 'quinn@example.com' });
  window.op('track', 'queued_second_${tag}', { step: 2 });
  window.__queuedBeforeLoad = window.op.q.length;
`);
const queuedBeforeLoad = window.__queuedBeforeLoad;

// 2. The tracker script arrives (op1.js) and replays the queue.
addScript(readFileSync(trackerPath, 'utf8'));
await recorder.settle(4); // three queued calls, then the first screen_view on the next tick

// 3. After load, both call styles go straight to the instance.
addScript(`
  window.op('track', 'after_load_call_${tag}', { via: 'call' });
  window.op.track('after_load_property_${tag}', { via: 'property' });
`);
await recorder.settle(6);

output({
  requests: recorder.requests,
  queuedBeforeLoad,
  deviceId: window.openpanel.getDeviceId(),
  sessionId: window.openpanel.getSessionId(),
  trackerPath,
});
window.close();
