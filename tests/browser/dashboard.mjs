// The server's dashboard (/dashboard): sign in with a read client, read the overview, add a
// filter, remove it, switch the range.
//
// Config: {wsEndpoint, timeoutMs, url, clientId, clientSecret, screenshot (a path or null)}.
// Output: {signedOut, initial, filtered, unfiltered, today, storage, requestUrls, pageErrors,
//          consoleErrors}; each snapshot is the page's window.__opDashboard after that step.
import { openContext, output, readConfig, watchdog } from './harness.mjs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const page = await context.newPage();
const pageErrors = [];
const consoleErrors = [];
const requestUrls = [];
page.on('pageerror', (error) => pageErrors.push(String(error && error.stack ? error.stack : error)));
page.on('console', (msg) => {
  if (msg.type() === 'error' || msg.type() === 'warning') consoleErrors.push(`${msg.type()}: ${msg.text()}`);
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
      return d && d.attempt > g && d.attempt === d.generation ? true : Boolean(d && d.error);
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

const storage = await page.evaluate(() => ({
  session: Object.fromEntries(Object.entries(sessionStorage)),
  local: Object.keys(localStorage),
}));
output({
  signedOut,
  initial,
  filtered,
  unfiltered,
  today,
  storage,
  pageUrl: page.url(),
  requestUrls,
  pageErrors,
  consoleErrors,
});
await context.close();
await browser.close();
