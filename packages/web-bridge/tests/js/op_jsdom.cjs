// Drives the served op.js in jsdom pages and prints what each scenario sent, as JSON.
// Run by test_bridge_opjs.py: stdin is {"npmDir": <folder with node_modules/jsdom>,
// "script": <op.js as served>, "clientId": "...", "version": <the suite version>}.
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const { JSDOM, VirtualConsole } = createRequire(path.join(input.npmDir, 'package.json'))('jsdom');
const STUB = 'window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};';
const SCRIPT = input.script;
const CLIENT_ID = input.clientId;

const unhandled = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason)));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function page(options) {
  const opts = Object.assign({ url: 'https://shop.example/', referrer: '' }, options);
  const errors = [];
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('jsdomError', (e) => errors.push(String((e && e.message) || e)));
  const dom = new JSDOM(
    `<!doctype html><html><head><title>Start</title></head><body>
      <button id="signup" data-track="signup_click" data-plan-name="pro"><span id="inner">Sign up</span></button>
      <a id="docs" href="https://docs.example.org/guide">  Read the docs </a>
      <a id="internal" href="/about">About</a>
    </body></html>`,
    {
      url: opts.url,
      referrer: opts.referrer || undefined,
      runScripts: 'outside-only',
      pretendToBeVisual: true,
      virtualConsole,
    },
  );
  const { window } = dom;
  const requests = [];
  window.fetch = (url, init) => {
    requests.push({
      url: String(url),
      method: init.method,
      headers: init.headers,
      keepalive: init.keepalive,
      body: JSON.parse(init.body),
    });
    return Promise.resolve({ ok: true, status: 200 });
  };
  window.addEventListener('error', (e) => errors.push(`page error: ${e.message}`));
  window.addEventListener('click', (e) => e.preventDefault()); // jsdom cannot navigate
  const thrown = [];
  const run = (code) => {
    try {
      return window.eval(code);
    } catch (e) {
      thrown.push(`${e && e.name}: ${e && e.message}`);
      return undefined;
    }
  };
  const result = () => ({ requests, errors, thrown });
  return { dom, window, requests, errors, thrown, run, result };
}

const init = (extra) => JSON.stringify(Object.assign({ clientId: CLIENT_ID, apiUrl: '/_op/' }, extra));

async function queueBeforeInit() {
  const p = page({ referrer: 'https://www.google.com/' });
  p.run(`${STUB}
    op('track', 'early', {a: 1});
    op('identify', {profileId: 'u1', email: 'u1@example.com', firstName: null});
    op('setGlobalProperties', {app: 'shop'});
    op('init', ${init()});
    op('track', 'after', {b: null, c: 2});`);
  p.run(SCRIPT);
  p.run(`op('track', 'loaded'); op.track('method_style', {m: true});`);
  await sleep(20);
  return p.result();
}

async function initFirst() {
  const p = page();
  p.run(`${STUB} op('init', ${init({ trackScreenViews: true })}); op('track', 'clicked');`);
  p.run(SCRIPT);
  return p.result();
}

async function noInit() {
  const p = page();
  p.run(`${STUB} op('track', 'waiting', {n: 1}); op('revenue', 500);`);
  p.run(SCRIPT);
  await sleep(80);
  const before = p.requests.length;
  p.run(`op.track('still_waiting'); op('init', ${init({ trackScreenViews: false })});`);
  return Object.assign(p.result(), { before });
}

async function spa() {
  const p = page({ referrer: 'https://www.google.com/' });
  p.run(`${STUB} op('init', ${init()});`);
  p.run(SCRIPT);
  const steps = [
    `document.title = 'Pricing'; history.pushState({}, '', '/pricing');`,
    `history.replaceState({x: 1}, '', '/pricing');`,
    `history.pushState({}, '', '/pricing#faq');`,
    `history.pushState({}, '', '/checkout?step=1');`,
    `history.go(-3);`,
    `history.pushState({}, '', '/a'); history.pushState({}, '', '/b');`,
  ];
  for (const step of steps) {
    p.run(step);
    await sleep(120);
  }
  return p.result();
}

async function hashChanges() {
  const p = page();
  p.run(`${STUB} op('init', ${init({ trackHashChanges: true })});`);
  p.run(SCRIPT);
  p.run(`history.pushState({}, '', '/#faq');`);
  await sleep(120);
  p.run(`location.hash = 'team';`);
  await sleep(120);
  return p.result();
}

async function neverThrows() {
  const p = page();
  p.run(`${STUB} op(); window.op.q.push(null); window.op.q.push(42); window.op.q.push('str');
    op(null); op('unknown', 1); op('track'); op('track', {}); op('identify', null);
    op('increment'); op('init', null); op('init', {}); op('__proto__'); op('constructor');
    op('hasOwnProperty', 'x');`);
  p.run(SCRIPT);
  const loaded = p.run('typeof window.op === "function" && window.op.version') === input.version;
  p.run(`op('init', ${init({ trackScreenViews: false })});
    op('track', 'ok');
    const circular = {}; circular.self = circular;
    op('track', 'circular', circular);
    op('identify', {profileId: 'u1', properties: circular});
    window.fetch = () => { throw new Error('offline'); };
    op('track', 'sync_throw');
    window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    op('track', 'rejected');
    delete window.fetch; window.fetch = undefined;
    op('track', 'no_fetch');`);
  // The page's own errors stay its own: a cross-origin pushState still throws to the page.
  p.run(`history.pushState({}, '', 'https://evil.example/');`);
  // A second copy of the script is a no-op.
  const first = p.run('window.op');
  p.run(SCRIPT);
  const same = p.run('window.op') === first;
  await sleep(120);
  return Object.assign(p.result(), { loaded, same });
}

async function noStub() {
  const p = page();
  p.run(SCRIPT);
  p.run(`op('init', ${init({ trackScreenViews: false })}); op('track', 'direct');`);
  return p.result();
}

async function api() {
  const p = page({ referrer: 'https://www.google.com/' });
  p.run(`${STUB} op('init', ${init({ trackScreenViews: false, trackAttributes: true, trackOutgoingLinks: true })});`);
  p.run(SCRIPT);
  p.run(`
    op('identify', {profileId: 'u1'});
    op('revenue', 1299, {plan: 'pro'});
    op('increment', 'logins');
    op('decrement', {profileId: 'u2', property: 'credits', value: 5});
    op('identify', {profileId: 'u1', firstName: 'Ada', lastName: null, properties: {tier: 'gold'}});
    op('setGlobalProperties', {app: 'shop'});
    op('setGlobalProperties', {release: '1.2'});
    document.getElementById('inner').click();
    document.getElementById('docs').click();
    document.getElementById('internal').click();
    op('clear');
    op('track', 'anonymous');
    op('increment', 'logins');`);
  return p.result();
}

(async () => {
  const out = {
    queueBeforeInit: await queueBeforeInit(),
    initFirst: await initFirst(),
    noInit: await noInit(),
    spa: await spa(),
    hashChanges: await hashChanges(),
    neverThrows: await neverThrows(),
    noStub: await noStub(),
    api: await api(),
  };
  await sleep(20);
  out.unhandled = unhandled;
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e));
  process.exit(1);
});
