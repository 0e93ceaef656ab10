// The server's dashboard (/dashboard): sign in with a read client, read the overview, add a
// filter, remove it, switch the range, add a filter the server refuses, remove it; last, sign in
// with a wrong secret.
//
// Config: {wsEndpoint, timeoutMs, url, clientId, clientSecret, screenshot (a path or null)}.
// Output: {signedOut, initial, filtered, unfiltered, today, refused, recovered, wrongSecret,
//          storage, requestUrls, pageErrors, consoleErrors: [{step, text}]}; each snapshot is
//          the page's window.__opDashboard after that step.
import { openContext, output, readConfig, watchdog } from './harness.mjs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const page = await context.newPage();
const pageErrors = [];
const consoleErrors = [];
const requestUrls = [];
page.on('pageerror', (error) => pageErrors.push(String(error && error.stack ? error.stack : error)));
let step = 'load';
page.on('console', (msg) => {
  if (msg.type() === 'error' || msg.type() === 'warning') {
    consoleErrors.push({ step, text: `${msg.type()}: ${msg.text()}` });
  }
});
page.on('request', (request) => requestUrls.push(request.url()));
const steps = [];
watchdog(config.timeoutMs, () => JSON.stringify({ steps, pageErrors, consoleErrors }));

const snapshot = () => page.evaluate(() => window.__opDashboard);

// Wait until a load newer than `after` is on screen (or has failed: then the snapshot says so).
async function settled(after) {
  await page.waitForFunction(
    (g) => {
      const d = window.__opDashboard;
      return Boolean(d && d.attempt > g && (d.attempt === d.generation || d.error));
    },
    after,
  );
  return snapshot();
}

await page.goto(`${config.url}/dashboard`);
await page.waitForFunction(() => window.__opDashboard !== undefined);
const signedOut = {
  loginVisible: await page.isVisible('#login'),
  overviewVisible: await page.isVisible('#overview'),
};
steps.push('loaded');

await page.fill('#client-id', config.clientId);
await page.fill('#client-secret', config.clientSecret);
await page.click('#login-form button[type=submit]');
const initial = await settled(0);
steps.push('signed in');
await page.waitForSelector('#top-path tr:nth-child(2)');
initial.domKpis = await page.locator('.kpi strong').allTextContents();
initial.domPages = await page.locator('#top-path tr').allTextContents();
if (config.screenshot) await page.screenshot({ path: config.screenshot, fullPage: true });

await page.fill('#filter-name', 'country');
await page.selectOption('#filter-operator', 'is');
await page.fill('#filter-value', 'SE');
await page.click('#filter-form button[type=submit]');
const filtered = await settled(initial.attempt);
filtered.filterChips = await page.locator('#filter-list li span').allTextContents();
steps.push('filtered');

await page.click('#filter-list li button');
const unfiltered = await settled(filtered.attempt);
steps.push('filter removed');

await page.click('[data-range=today]');
const today = await settled(unfiltered.attempt);
steps.push('today');

// A filter the server refuses (a text column compared as a number): the error is shown, the
// last good data stays; removing the filter recovers.
step = 'refused';
await page.fill('#filter-name', 'country');
await page.selectOption('#filter-operator', 'gt');
await page.fill('#filter-value', '5');
await page.click('#filter-form button[type=submit]');
const refused = await settled(today.attempt);
refused.status = await page.textContent('#status');
step = 'recovered';
await page.click('#filter-list li button');
const recovered = await settled(refused.attempt);
steps.push('refused and recovered');

const storage = await page.evaluate(() => ({
  session: Object.fromEntries(Object.entries(sessionStorage)),
  local: Object.keys(localStorage),
}));
// A wrong secret: back to the form with a message, nothing kept.
step = 'wrong secret';
await page.click('#logout');
await page.fill('#client-id', config.clientId);
await page.fill('#client-secret', 'not-the-secret');
await page.click('#login-form button[type=submit]');
await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
const wrongSecret = {
  loginVisible: await page.isVisible('#login'),
  overviewVisible: await page.isVisible('#overview'),
  message: await page.textContent('#login-error'),
  stored: await page.evaluate(() => sessionStorage.length),
};
steps.push('wrong secret');

output({
  signedOut,
  initial,
  filtered,
  unfiltered,
  today,
  refused,
  recovered,
  wrongSecret,
  storage,
  pageUrl: page.url(),
  requestUrls,
  pageErrors,
  consoleErrors,
});
await context.close();
await browser.close();
