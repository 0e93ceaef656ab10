// @openpanel/web (the ES module) in a jsdom page, as a bundler would ship it to a browser.
//
// Config: {apiUrl, clientId, origin, userAgent, pageUrl, referrer}.
// Output: {requests: [...], deviceId, sessionId}.
import { JSDOM } from 'jsdom';
import { instrumentFetch, output, readConfig, sleep } from './harness.mjs';

const config = readConfig();
const dom = new JSDOM(
  `<!doctype html><html><head><title>Start</title></head><body>
    <button id="signup" data-track="signup_click" data-plan-name="pro" data-billing-period="yearly">
      Sign up
    </button>
    <a id="docs" href="https://docs.example.org/guide?from=app">Read the docs</a>
    <a id="internal" href="${new URL('/about', config.pageUrl).href}">About</a>
  </body></html>`,
  { url: config.pageUrl, referrer: config.referrer, pretendToBeVisual: true },
);
const { window } = dom;
// A single-page app handles its own links; jsdom cannot navigate anyway.
window.addEventListener('click', (event) => event.preventDefault());

// jsdom has no layout, so no innerText: use the text content, as a browser would render it.
Object.defineProperty(window.HTMLElement.prototype, 'innerText', {
  get() {
    return this.textContent.trim();
  },
});

// The browser globals the SDK reads (it checks `typeof document` to know it is in a browser).
for (const name of ['window', 'document', 'history', 'location', 'sessionStorage', 'Event']) {
  Object.defineProperty(globalThis, name, { value: window[name], configurable: true, writable: true });
}

// Node's fetch sends neither Origin nor a browser User-Agent: add what the browser would send.
const recorder = instrumentFetch(globalThis.fetch.bind(globalThis), {
  extraHeaders: { origin: config.origin, 'user-agent': config.userAgent },
});
globalThis.fetch = recorder.fetch;

const { OpenPanel } = await import('@openpanel/web');
const op = new OpenPanel({
  apiUrl: config.apiUrl,
  clientId: config.clientId,
  trackScreenViews: true,
  trackOutgoingLinks: true,
  trackAttributes: true,
});

await recorder.settle(1); // the first screen_view goes out on the next tick

window.document.title = 'Pricing';
window.history.pushState({}, '', '/pricing');
await sleep(60); // locationchange is debounced by 50 ms
await recorder.settle(2);

window.document.getElementById('signup').click();
await recorder.settle(3);

window.document.getElementById('docs').click();
await recorder.settle(4);

window.document.getElementById('internal').click(); // same host: no link_out
await sleep(100);
await recorder.settle(4);

output({ requests: recorder.requests, deviceId: op.getDeviceId(), sessionId: op.getSessionId() });
window.close();
