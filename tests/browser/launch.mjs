// One headless Chromium for a test module: prints {"wsEndpoint", "version"} on one line, then
// keeps the browser until stdin closes (the pytest fixture's teardown) and exits.
//
//   node launch.mjs <chromium executable> <launch timeout ms>
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const [executablePath, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg) || 30000;
// Playwright gives every launch a fresh temporary profile (its own --user-data-dir, removed
// at close; passing one in args is refused), so no state leaks between runs.
const server = await chromium.launchServer({
  executablePath,
  args: CHROMIUM_ARGS,
  timeout,
  handleSIGINT: false,
});
const probe = await chromium.connect(server.wsEndpoint(), { timeout });
const version = probe.version();
await probe.close();
process.stdout.write(JSON.stringify({ wsEndpoint: server.wsEndpoint(), version }) + '\n');

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  await server.close().catch(() => {});
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
