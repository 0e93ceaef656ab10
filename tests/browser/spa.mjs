// A single-page app on its own origin, its events straight to the ingestion server (CORS).
//
// Config: {wsEndpoint, timeoutMs, pageUrl, referrer, outgoingUrl, profileId}.
// Steps: land from a link on another site (calls queued before the script loaded), pushState,
// replaceState, back (popstate), a hash link, a data-track click, increment and decrement
// after load, and last an outgoing link click that leaves the page.
// Output: {tracks, preflights, pageErrors, consoleErrors, steps: [{step, url, title}],
//          queuedBeforeLoad, loadedVersion}.
import { openContext, output, readConfig, recordTracks, sent, summary, watchdog } from './harness.mjs';

const config = await readConfig();
const { browser, context } = await openContext(config);
const page = await context.newPage();
const rec = await recordTracks(context, page);
watchdog(config.timeoutMs, () => rec.tracks.map(summary).join('\n'));

const steps = [];
const views = () => sent(rec.tracks, 'track', 'screen_view').length;
async function step(name, count) {
  await rec.until(() => views() >= count, `screen view ${count} (${name})`);
  steps.push({ step: name, url: page.url(), title: await page.title() });
}
const answered = (type, name) => () => sent(rec.tracks, type, name).some((t) => t.settled);

// 1. Land from another site; the stub's queue (init, globals, identify, track, revenue) runs.
await page.goto(config.pageUrl, { referer: config.referrer });
await step('load', 1);
await rec.until(
  () => ['pricing_viewed', 'revenue'].every((n) => answered('track', n)()) && answered('identify')(),
  'the queued calls',
);
const queuedBeforeLoad = await page.evaluate(() => window.queuedBeforeLoad);

// 2. SPA navigations: the router changes the URL, then the title.
await page.evaluate(() => window.navigate('/app/features'));
await step('pushState', 2);
await page.evaluate(() => window.navigate('/app/plans', true));
await step('replaceState', 3);
await page.goBack();
await step('popstate', 4);
await page.click('#faq');
await step('hashchange', 5);

// 3. A data-track click (on an element inside the tagged button).
await page.click('#signup b');
await rec.until(answered('track', 'signup'), 'the signup click');

// 4. After load: increment (call style) and decrement (property style), one after the other
//    (the profile exists: the queued identify was answered above).
await page.evaluate((id) => window.op('increment', { profileId: id, property: 'visits', value: 3 }), config.profileId);
await rec.until(answered('increment'), 'the increment');
await page.evaluate(() => window.op.decrement('visits', 1));
await rec.until(answered('decrement'), 'the decrement');

// 5. An outgoing link: the page is left (no request interception: that would fake the CORS
//    preflights), the link_out request outlives it.
await page.click('#docs');
await page.waitForURL(config.outgoingUrl);
await rec.until(() => sent(rec.tracks, 'track', 'link_out').length === 1, 'the outgoing link');
await rec.quiet();

output({
  tracks: rec.tracks,
  preflights: rec.preflights(),
  pageErrors: rec.pageErrors,
  consoleErrors: rec.consoleErrors,
  steps,
  queuedBeforeLoad,
});
await context.close();
await browser.close();
