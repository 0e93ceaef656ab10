// The script never throws into a page: pages whose setup is wrong (no init, a broken fetch),
// each in its own tab, with calls after load, a data-track click, an outgoing link click and
// history changes. A control page that throws on purpose shows that errors would be seen.
//
// Config: {wsEndpoint, timeoutMs, pages: [url, ...]}.
// Output: {pages: [{url, pageErrors, consoleErrors, thrown, ownError, fetchCalls, tracks}]}.
import { openContext, output, readConfig, recordTracks, sleep, summary, watchdog } from './harness.mjs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const runs = [];
watchdog(config.timeoutMs, () => runs.map((r) => `${r.url}: ${r.rec.tracks.map(summary)}`).join('\n'));

async function visit(url) {
  const page = await context.newPage();
  const rec = await recordTracks(context, page);
  runs.push({ url, rec });
  await page.goto(url); // waits for load, which waits for the async script
  await page.evaluate(() => window.afterLoad());
  await page.click('#tagged');
  // An outgoing link whose navigation the page itself cancels (the script listens first).
  await page.evaluate(() => {
    const link = document.getElementById('out');
    link.addEventListener('click', (event) => event.preventDefault());
    link.click();
  });
  await sleep(1200); // debounced views, a first retry
  return {
    url,
    pageErrors: rec.pageErrors,
    consoleErrors: rec.consoleErrors,
    thrown: await page.evaluate(() => window.thrown),
    ownError: await page.evaluate(() => window.ownError),
    fetchCalls: await page.evaluate(() => window.fetchCalls),
    tracks: rec.tracks,
  };
}

const pages = await Promise.all(config.pages.map(visit));
output({ pages });
await context.close();
await browser.close();
