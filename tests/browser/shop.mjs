// The Flask example shop in a real browser, its events through the app's first-party proxy.
//
// Config: {wsEndpoint, timeoutMs, shopUrl, referrer, name, quantity}.
// Steps: land on the home page from a search engine, click a product (a data-track link),
// log in from the product page, buy (a data-track button), reach the thank-you page.
// Output: {tracks, preflights, pageErrors, consoleErrors, pages: [{url, title}], userAgent}.
import { openContext, output, readConfig, recordTracks, sent, summary, watchdog } from './harness.mjs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const page = await context.newPage();
const rec = await recordTracks(context, page);
watchdog(config.timeoutMs, () => rec.tracks.map(summary).join('\n'));

const pages = [];
const views = () => sent(rec.tracks, 'track', 'screen_view').length;
async function landed(path, count) {
  await page.waitForURL((url) => url.pathname === path);
  await rec.until(() => views() >= count, `screen view ${count} (${path})`);
  pages.push({ url: page.url(), title: await page.title() });
}

// 1. Home page, arriving from a search result.
await page.goto(`${config.shopUrl}/`, { referer: config.referrer });
await landed('/', 1);

// 2. A real link click: <a href="/products/grinder" data-track="product_clicked" data-sku=...>.
await page.click('a[data-sku="grinder"]');
await landed('/products/grinder', 2);

// 3. Log in from the product page (the form sends us back to it).
await page.click('nav a.login');
await landed('/login', 3);
await page.fill('input[name="name"]', config.name);
await page.click('form button');
await landed('/products/grinder', 4);

// 4. Buy: <button data-track="buy_clicked" data-sku="grinder"> submits the form.
await page.fill('input[name="quantity"]', String(config.quantity));
await page.click('button[data-track="buy_clicked"]');
await landed('/thanks/grinder', 5);
await rec.quiet();

output({
  tracks: rec.tracks,
  preflights: rec.preflights(),
  pageErrors: rec.pageErrors,
  consoleErrors: rec.consoleErrors,
  pages,
  userAgent: await page.evaluate(() => navigator.userAgent),
});
await context.close();
await browser.close();
