// The script tag (dist/op.js) in jsdom pages: the queue stub, init in any order, screen views,
// SPA navigation, clicks, privacy and exclusion switches, and that it never throws.
import { afterEach, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { CLIENT_ID, Page, SCRIPT, STUB, init, sleep, type PageOptions } from './pages.js';

// The suite's version, as package.json states it (scripts/bump_version.py keeps them equal).
const VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

const HOME = 'https://shop.example/';
const pages: Page[] = [];
const page = (options?: PageOptions) => {
  const p = new Page(options);
  pages.push(p);
  return p;
};
afterEach(() => {
  for (const p of pages.splice(0)) {
    expect(p.errors).toEqual([]);
    p.close();
  }
});

describe('wire format', () => {
  test('POST {apiUrl}/track with the protocol headers, keepalive, no nulls', async () => {
    const p = page({ referrer: 'https://www.google.com/' }).load(
      `op('init', ${init()}); op('track', 'signup', {plan: 'pro', none: null, gone: undefined});`,
    );
    await sleep(0);
    expect(p.sent).toHaveLength(2);
    for (const request of p.sent) {
      expect(request.url).toBe('/_op/track');
      expect(request.method).toBe('POST');
      expect(request.keepalive).toBe(true);
      expect(request.headers).toEqual({
        'content-type': 'application/json',
        'openpanel-client-id': CLIENT_ID,
        'openpanel-sdk-name': 'openpanel-browser',
        'openpanel-sdk-version': VERSION,
      });
      expect(JSON.stringify(request.body)).not.toContain('null');
    }
    expect(p.bodies).toEqual([
      {
        type: 'track',
        payload: {
          name: 'signup',
          properties: {
            plan: 'pro',
            __path: 'https://shop.example/',
            __referrer: 'https://www.google.com/',
          },
        },
      },
      {
        type: 'track',
        payload: {
          name: 'screen_view',
          properties: {
            __path: 'https://shop.example/',
            __title: 'Start',
            __referrer: 'https://www.google.com/',
          },
        },
      },
    ]);
  });

  test('apiUrl defaults to the OpenPanel cloud', () => {
    const p = page().load(`op('init', {clientId: '${CLIENT_ID}'});`);
    expect(p.sent.map((s) => s.url)).toEqual(['https://api.openpanel.dev/track']);
  });

  test('the version in op.js is the suite version', () => {
    expect(SCRIPT).toContain(JSON.stringify(VERSION));
    const p = page().load();
    expect(p.run('window.op.version')).toBe(VERSION);
  });
});

describe('queue stub', () => {
  test('calls before init are replayed in order; the first screen view follows the queue', async () => {
    const p = page({ referrer: 'https://www.google.com/' });
    p.run(`${STUB}
      op('track', 'early', {a: 1});
      op('identify', {profileId: 'u1', email: 'u1@example.com', firstName: null});
      op('setGlobalProperties', {app: 'shop'});
      op('init', ${init()});
      op('track', 'after', {b: null, c: 2});`);
    expect(p.sent).toEqual([]); // nothing before the script runs
    p.run(SCRIPT);
    p.run(`op('track', 'loaded'); op.track('method_style', {m: true});`);
    await sleep(10);
    expect(p.thrown).toEqual([]);
    // Every event carries the page's referrer and path, the queued ones before the first view too.
    const onPage = { __path: 'https://shop.example/', __referrer: 'https://www.google.com/' };
    expect(p.bodies).toEqual([
      { type: 'track', payload: { name: 'early', properties: { a: 1, ...onPage } } },
      {
        type: 'identify',
        payload: { profileId: 'u1', email: 'u1@example.com', properties: {} },
      },
      {
        type: 'track',
        payload: { name: 'after', profileId: 'u1', properties: { app: 'shop', c: 2, ...onPage } },
      },
      {
        type: 'track',
        payload: {
          name: 'screen_view',
          profileId: 'u1',
          properties: {
            app: 'shop',
            __path: 'https://shop.example/',
            __title: 'Start',
            __referrer: 'https://www.google.com/',
          },
        },
      },
      {
        type: 'track',
        payload: { name: 'loaded', profileId: 'u1', properties: { app: 'shop', ...onPage } },
      },
      {
        type: 'track',
        payload: {
          name: 'method_style',
          profileId: 'u1',
          properties: { app: 'shop', m: true, ...onPage },
        },
      },
    ]);
  });

  test("the web bridge's snippet: init, then identify; the first view carries the profile", () => {
    const p = page().load(`window.op("init",${init()});window.op("identify",{"profileId":"42"});`);
    expect(p.bodies).toEqual([
      {
        type: 'track',
        payload: {
          name: 'screen_view',
          profileId: '42',
          properties: { __path: 'https://shop.example/', __title: 'Start' },
        },
      },
    ]);
  });

  test('init after the script has loaded starts at once', () => {
    const p = page().load(`op('identify', {profileId: 'u1'});`);
    p.run(`op('init', ${init()}); op('track', 'next');`);
    expect(p.names).toEqual(['screen_view', 'next']);
    expect(p.bodies[0].payload.profileId).toBe('u1');
  });

  test('init first', () => {
    const p = page().load(`op('init', ${init()}); op('track', 'clicked');`);
    expect(p.names).toEqual(['clicked', 'screen_view']);
  });

  test('a stub without init waits, never throws, and sends once init comes', async () => {
    const p = page().load(`op('track', 'waiting', {n: 1}); op('revenue', 500);`);
    await sleep(60);
    expect(p.sent).toEqual([]);
    p.run(`op.track('still_waiting'); op('init', ${init({ trackScreenViews: false })});`);
    expect(p.thrown).toEqual([]);
    expect(p.bodies).toEqual([
      { type: 'track', payload: { name: 'waiting', properties: { n: 1, __path: HOME } } },
      { type: 'track', payload: { name: 'revenue', properties: { __revenue: 500, __path: HOME } } },
      { type: 'track', payload: { name: 'still_waiting', properties: { __path: HOME } } },
    ]);
  });

  test('at most 100 calls wait for init', () => {
    const p = page().load(`for (let i = 0; i < 150; i++) op('track', 'e' + i);`);
    p.run(`op('init', ${init({ trackScreenViews: false })});`);
    expect(p.names).toHaveLength(100);
    expect(p.names[99]).toBe('e99');
  });

  test('the script works without the stub, and op.init as a method', () => {
    const p = page();
    p.run(SCRIPT);
    p.run(`op.init(${init({ trackScreenViews: false })}); op('track', 'direct');`);
    expect(p.names).toEqual(['direct']);
  });

  test('a second init and invalid inits are ignored', () => {
    const p = page().load(
      `op('init', null); op('init', {}); op('init', {apiUrl: '/x'}); op('track', 'kept');
       op('init', ${init({ trackScreenViews: false })});
       op('init', ${init({ apiUrl: '/other', trackScreenViews: true })});`,
    );
    expect(p.sent.map((s) => [s.url, s.body.payload.name])).toEqual([['/_op/track', 'kept']]);
  });

  test('a second copy of the script changes nothing', () => {
    const p = page().load(`op('init', ${init()});`);
    const first = p.run('window.op');
    p.run(SCRIPT);
    expect(p.run('window.op') === first).toBe(true);
    expect(p.names).toEqual(['screen_view']);
  });
});

describe('API', () => {
  test('identify, revenue, increment, decrement, globals, groups, clear', () => {
    // The referrer and path go on track events only, never on identify, increment or groups.
    const p = page({ referrer: 'https://www.google.com/' }).load(
      `op('init', ${init({ trackScreenViews: false })});`,
    );
    const onPage = { __path: HOME, __referrer: 'https://www.google.com/' };
    p.run(`op('identify', {profileId: 'u1'});
      op('revenue', 1299, {plan: 'pro'});
      op('increment', 'logins');
      op('increment', 'credits', 5);
      op('decrement', {profileId: 'u2', property: 'credits', value: 5});
      op('identify', {profileId: 'u1', firstName: 'Ada', lastName: null, properties: {tier: 'gold'}});
      op('setGlobalProperties', {app: 'shop'});
      op('setGlobalProperties', {release: '1.2'});
      op('setGroup', 'acme');
      op.setGroups(['acme', 'beta']);
      op('upsertGroup', {id: 'acme', type: 'company', name: 'Acme', properties: {plan: 'pro'}});
      op('track', 'grouped', {groups: ['extra'], profileId: 'u9', x: 1});
      op('clear');
      op('track', 'anonymous');
      op('increment', 'logins');`);
    expect(p.thrown).toEqual([]);
    expect(p.bodies).toEqual([
      {
        type: 'track',
        payload: {
          name: 'revenue',
          profileId: 'u1',
          properties: { plan: 'pro', __revenue: 1299, ...onPage },
        },
      },
      { type: 'increment', payload: { profileId: 'u1', property: 'logins' } },
      { type: 'increment', payload: { profileId: 'u1', property: 'credits', value: 5 } },
      { type: 'decrement', payload: { profileId: 'u2', property: 'credits', value: 5 } },
      {
        type: 'identify',
        payload: { profileId: 'u1', firstName: 'Ada', properties: { tier: 'gold' } },
      },
      { type: 'assign_group', payload: { groupIds: ['acme'], profileId: 'u1' } },
      { type: 'assign_group', payload: { groupIds: ['acme', 'beta'], profileId: 'u1' } },
      {
        type: 'group',
        payload: { id: 'acme', type: 'company', name: 'Acme', properties: { plan: 'pro' } },
      },
      {
        type: 'track',
        payload: {
          name: 'grouped',
          profileId: 'u9',
          groups: ['acme', 'beta', 'extra'],
          properties: { app: 'shop', release: '1.2', x: 1, ...onPage },
        },
      },
      // clear(): no profile, no groups; an increment without a profile is not sent.
      {
        type: 'track',
        payload: { name: 'anonymous', properties: { app: 'shop', release: '1.2', ...onPage } },
      },
    ]);
  });

  test('identify carries the global properties under its own', () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});
      op('setGlobalProperties', {app: 'shop', tier: 'free'});
      op('identify', {profileId: 7, email: 'a@b.example', properties: {tier: 'gold'}});
      op('identify', {firstName: 'Ann'});`);
    expect(p.bodies).toEqual([
      {
        type: 'identify',
        payload: {
          profileId: 7,
          email: 'a@b.example',
          properties: { app: 'shop', tier: 'gold' },
        },
      },
      // a later identify without profileId updates the identified profile
      {
        type: 'identify',
        payload: { profileId: 7, firstName: 'Ann', properties: { app: 'shop', tier: 'free' } },
      },
    ]);
  });

  test('identify without any profile id sends nothing', () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});
      op('identify', {email: 'x@y.example'}); op('track', 'anon');`);
    expect(p.bodies).toEqual([
      { type: 'track', payload: { name: 'anon', properties: { __path: HOME } } },
    ]);
  });

  test('screenView with a path and properties; the same page twice is one view', () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});
      op('screenView', '/virtual', {step: 1}); op('screenView', '/virtual'); op('track', 'on_it');
      op('screenView'); op('track', 'back');`);
    expect(p.names).toEqual(['screen_view', 'on_it', 'screen_view', 'back']);
    expect(p.props).toEqual([
      { step: 1, __path: '/virtual', __title: 'Start' },
      { __path: '/virtual' }, // events carry the last view's path, as given
      { __path: HOME, __title: 'Start' },
      { __path: HOME },
    ]);
  });
});

describe('screen views and SPA navigation', () => {
  test('pushState, replaceState, popstate; hash-only changes and repeats are not views', async () => {
    const p = page({ referrer: 'https://www.google.com/' }).load(`op('init', ${init()});`);
    const steps = [
      `document.title = 'Pricing'; history.pushState({}, '', '/pricing');`,
      `history.replaceState({x: 1}, '', '/pricing');`,
      `history.pushState({}, '', '/pricing#faq');`,
      `history.replaceState({}, '', '/checkout?step=1');`,
      `history.go(-2);`,
      `history.pushState({}, '', '/a'); history.pushState({}, '', '/b');`,
      `location.hash = 'team';`,
    ];
    for (const step of steps) {
      p.run(step);
      await sleep(100);
    }
    expect(p.thrown).toEqual([]);
    const views = p.props;
    expect(p.names).toEqual(Array(5).fill('screen_view'));
    expect(views.map((v) => v.__path)).toEqual([
      'https://shop.example/',
      'https://shop.example/pricing',
      'https://shop.example/checkout?step=1', // replaceState
      'https://shop.example/', // popstate (history.go)
      'https://shop.example/b', // two quick pushes: one view, the last
    ]);
    expect(views[1].__title).toBe('Pricing');
    // The page's referrer stays on every view: the page was not reloaded.
    expect(views.map((v) => v.__referrer)).toEqual(Array(5).fill('https://www.google.com/'));
  });

  test('trackHashChanges: hash changes are views too, with pushState still tracked', async () => {
    const p = page().load(`op('init', ${init({ trackHashChanges: true })});`);
    for (const step of [
      `history.pushState({}, '', '/#faq');`,
      `location.hash = 'team';`,
      `history.pushState({}, '', '/docs');`,
    ]) {
      p.run(step);
      await sleep(100);
    }
    expect(p.props.map((v) => v.__path)).toEqual([
      'https://shop.example/',
      'https://shop.example/#faq',
      'https://shop.example/#team',
      'https://shop.example/docs',
    ]);
  });

  test('trackScreenViews: false sends no view and leaves history alone', async () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});`);
    expect(p.run(`Object.prototype.hasOwnProperty.call(history, 'pushState')`)).toBe(false);
    p.run(`history.pushState({}, '', '/x');`);
    await sleep(100);
    expect(p.sent).toEqual([]);
  });

  test('the page keeps its own history errors', () => {
    const p = page().load(`op('init', ${init()});`);
    p.run(`history.pushState({}, '', 'https://evil.example/');`);
    expect(p.thrown).toHaveLength(1);
    expect(p.thrown[0]).toMatch(/^SecurityError/);
  });
});

describe('referrer and path on every event', () => {
  // Queued events can reach the server before the first screen view: each one must be able to
  // open the session with the page's referrer, and be stored with the page it happened on.
  test('a custom event queued before the first view carries the referrer and the page path', () => {
    const p = page({
      url: 'https://shop.example/landing?utm_source=ad',
      referrer: 'https://www.google.com/',
    });
    p.run(`${STUB} op('track', 'early', {a: 1}); op('init', ${init()});`);
    p.run(SCRIPT);
    expect(p.names).toEqual(['early', 'screen_view']);
    const [early, view] = p.props;
    expect(early).toEqual({
      a: 1,
      __path: 'https://shop.example/landing?utm_source=ad',
      __referrer: 'https://www.google.com/',
    });
    expect(view.__referrer).toBe('https://www.google.com/');
    expect(view.__path).toBe(early.__path);
  });

  test('a click after an SPA navigation carries the new path', async () => {
    const p = page({ referrer: 'https://www.google.com/' }).load(
      `op('init', ${init({ trackAttributes: true, trackOutgoingLinks: true })});`,
    );
    p.click('inner');
    p.run(`history.pushState({}, '', '/pricing?plan=pro');`);
    p.click('inner'); // before the debounced view: still the page the view was sent for
    await sleep(100);
    p.click('inner');
    p.click('docs');
    p.run(`op('track', 'custom'); op('revenue', 100);`);
    expect(p.names).toEqual([
      'screen_view',
      'signup_click',
      'signup_click',
      'screen_view',
      'signup_click',
      'link_out',
      'custom',
      'revenue',
    ]);
    const pricing = 'https://shop.example/pricing?plan=pro';
    expect(p.props.map((e) => e.__path)).toEqual([
      ...[HOME, HOME, HOME],
      ...[pricing, pricing, pricing, pricing, pricing],
    ]);
    expect(p.props.every((e) => e.__referrer === 'https://www.google.com/')).toBe(true);
  });

  test("the caller's properties win; no referrer is sent when the page has none", () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});
      op('setGlobalProperties', {__referrer: 'https://partner.example/'});
      op('track', 'own', {__path: '/mine'}); op('track', 'unset', {__path: null});`);
    expect(p.props).toEqual([
      { __referrer: 'https://partner.example/', __path: '/mine' },
      { __referrer: 'https://partner.example/' },
    ]);
    const plain = page().load(`op('init', ${init({ trackScreenViews: false })}); op('track', 'x');`);
    expect(plain.props).toEqual([{ __path: HOME }]);
  });
});

describe('clicks', () => {
  const options = { trackScreenViews: false, trackAttributes: true, trackOutgoingLinks: true };

  test('data-track on any element, data-* as camelCased properties, with globals', () => {
    const p = page().load(`op('init', ${init(options)}); op('setGlobalProperties', {app: 'shop'});`);
    p.click('inner');
    p.click('card-text');
    p.click('plain');
    expect(p.bodies).toEqual([
      {
        type: 'track',
        payload: { name: 'signup_click', properties: { app: 'shop', planName: 'pro', __path: HOME } },
      },
      {
        type: 'track',
        payload: {
          name: 'card_open',
          properties: { app: 'shop', cardId: '42', empty: '', __path: HOME },
        },
      },
    ]);
  });

  test('outgoing links: other hosts only, text trimmed', () => {
    const p = page().load(`op('init', ${init(options)});`);
    for (const id of ['docs', 'internal', 'sub', 'mail']) p.click(id);
    expect(p.props).toEqual([
      { href: 'https://docs.example.org/guide', text: 'Read the docs', __path: HOME },
      { href: 'https://blog.shop.example/post', text: 'Blog', __path: HOME },
    ]);
  });

  test('a tagged outgoing link sends both events', () => {
    const p = page().load(`op('init', ${init(options)});`);
    p.click('tagged-out');
    expect(p.names).toEqual(['partner_click', 'link_out']);
  });

  test('off by default', () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});`);
    for (const id of ['inner', 'docs', 'card-text']) p.click(id);
    expect(p.sent).toEqual([]);
  });

  test('only the enabled kind', () => {
    const links = page().load(`op('init', ${init({ trackScreenViews: false, trackOutgoingLinks: true })});`);
    links.click('tagged-out');
    links.click('inner');
    expect(links.names).toEqual(['link_out']);
    const attrs = page().load(`op('init', ${init({ trackScreenViews: false, trackAttributes: true })});`);
    attrs.click('tagged-out');
    attrs.click('docs');
    expect(attrs.names).toEqual(['partner_click']);
  });
});

describe('privacy signals, localhost and automation', () => {
  const dnt = (w: Window) =>
    Object.defineProperty(w.navigator, 'doNotTrack', { value: '1', configurable: true });
  const gpc = (w: Window) =>
    Object.defineProperty(w.navigator, 'globalPrivacyControl', { value: true, configurable: true });
  const webdriver = (w: Window) =>
    Object.defineProperty(w.navigator, 'webdriver', { value: true, configurable: true });

  test.each([
    ['Do-Not-Track', dnt],
    ['Global Privacy Control', gpc],
  ])('%s is respected when asked', (_name, setup) => {
    const asked = page({ setup }).load(
      `op('init', ${init({ respectPrivacySignals: true, trackAttributes: true })}); op('track', 'x');`,
    );
    asked.click('inner');
    expect(asked.sent).toEqual([]);
    const notAsked = page({ setup }).load(`op('init', ${init()}); op('track', 'x');`);
    expect(notAsked.names).toEqual(['x', 'screen_view']);
  });

  test.each([
    'http://localhost:8000/',
    'http://127.0.0.1:5000/',
    'http://[::1]:8000/',
    'http://app.localhost/',
    'http://0.0.0.0:3000/',
  ])('%s is excluded unless trackLocalhost', (url) => {
    const excluded = page({ url }).load(`op('init', ${init()}); op('track', 'x');`);
    expect(excluded.sent).toEqual([]);
    const allowed = page({ url }).load(`op('init', ${init({ trackLocalhost: true })}); op('track', 'x');`);
    expect(allowed.names).toEqual(['x', 'screen_view']);
  });

  test('file: pages are local', () => {
    const excluded = page({ url: 'file:///home/me/page.html' }).load(`op('init', ${init()});`);
    expect(excluded.sent).toEqual([]);
    const allowed = page({ url: 'file:///home/me/page.html' }).load(
      `op('init', ${init({ trackLocalhost: true })});`,
    );
    expect(allowed.names).toEqual(['screen_view']);
  });

  test('hosts that only look local are tracked', () => {
    const p = page({ url: 'https://localhost.example.com/' }).load(`op('init', ${init()});`);
    expect(p.names).toEqual(['screen_view']);
  });

  test('navigator.webdriver is excluded unless trackAutomation', () => {
    const excluded = page({ setup: webdriver }).load(`op('init', ${init()}); op('track', 'x');`);
    expect(excluded.sent).toEqual([]);
    const allowed = page({ setup: webdriver }).load(
      `op('init', ${init({ trackAutomation: true })}); op('track', 'x');`,
    );
    expect(allowed.names).toEqual(['x', 'screen_view']);
  });

  test('disabled sends nothing', () => {
    const p = page().load(`op('init', ${init({ disabled: true })}); op('track', 'x');`);
    expect(p.sent).toEqual([]);
  });

  test('debug says why nothing is sent, and logs what is', () => {
    const off = page({ url: 'http://localhost/' }).load(`op('init', ${init({ debug: true })});`);
    expect(off.logs).toEqual([['[openpanel]', 'off:', 'trackLocalhost']]);
    const on = page().load(`op('init', ${init({ debug: true })}); op('track', 'x', {a: 1});`);
    expect(on.logs[0]).toEqual([
      '[openpanel]',
      'track',
      { name: 'x', properties: { a: 1, __path: HOME } },
    ]);
    expect(on.logs).toHaveLength(2); // and the screen view
    const quiet = page({ url: 'http://localhost/' }).load(`op('init', ${init()}); op('track', 'x');`);
    expect(quiet.logs).toEqual([]);
  });
});

describe('delivery', () => {
  test('429, 5xx and network errors are retried (0.5 s, 1 s, 2 s), at most 3 times; 4xx not', async () => {
    const answers = [503, 0, 429, 200];
    const calls = `op('init', ${init({ trackScreenViews: false })}); op('track', 'e');`;
    const started = Date.now();
    const times: number[] = [];
    const flaky = page({
      respond: async () => {
        times.push(Date.now() - started);
        const status = answers.shift() ?? 200;
        if (!status) throw new TypeError('Failed to fetch');
        return { status };
      },
    }).load(calls);
    const down = page({ respond: async () => ({ status: 500 }) }).load(calls);
    const bad = page({ respond: async () => ({ status: 400 }) }).load(calls);
    const refused = page({ respond: async () => ({ status: 401 }) }).load(calls);
    await sleep(4200);
    expect(flaky.sent).toHaveLength(4);
    // 0, 500, 1500, 3500 ms (timers may fire late, never early)
    [0, 500, 1500, 3500].forEach((at, i) => expect(times[i]).toBeGreaterThanOrEqual(at));
    expect(times[3]).toBeLessThan(4100);
    expect(down.sent).toHaveLength(4);
    expect(bad.sent).toHaveLength(1);
    expect(refused.sent).toHaveLength(1);
  });

  test('bodies over 60 kB go without keepalive (browsers refuse them)', () => {
    const p = page().load(`op('init', ${init({ trackScreenViews: false })});
      op('track', 'small'); op('track', 'big', {blob: 'x'.repeat(70000)});`);
    expect(p.sent.map((s) => s.keepalive)).toEqual([true, false]);
  });
});

describe('never throws into the page', () => {
  test('garbage calls, broken queue entries, circular properties, failing fetch', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const p = page();
      p.run(`${STUB} op(); window.op.q.push(null); window.op.q.push(42); window.op.q.push('str');
        op(null); op('unknown', 1); op('track'); op('track', {}); op('identify', null);
        op('increment'); op('init', null); op('init', {}); op('__proto__'); op('constructor');
        op('hasOwnProperty', 'x'); op('toString'); op('setGroups', null);`);
      p.run(SCRIPT);
      expect(p.run('typeof window.op === "function" && window.op.version')).toBe(VERSION);
      p.run(`op('init', ${init({ trackScreenViews: false })});
        op('track', 'ok');
        const circular = {}; circular.self = circular;
        op('track', 'circular', circular);
        op('identify', {profileId: 'u1', properties: circular});
        op('identify', 'u1'); op('increment', {}); op('screenView', 42); op('upsertGroup', null);
        op('track', 'bad', 'not an object');
        window.fetch = () => { throw new Error('offline'); };
        op('track', 'sync_throw');
        window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
        op('track', 'rejected');
        window.fetch = undefined;
        op('track', 'no_fetch');`);
      await sleep(50);
      expect(p.thrown).toEqual([]);
      expect(p.names[0]).toBe('ok');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('a page without window.history methods or with odd click targets', () => {
    const p = page({
      setup: (w) => {
        Object.defineProperty(w.history, 'pushState', { value: undefined, writable: true });
      },
    }).load(`op('init', ${init({ trackAttributes: true, trackOutgoingLinks: true })});`);
    p.window.document.dispatchEvent(new p.window.MouseEvent('click', { bubbles: true }));
    p.run(`op('track', 'still_works');`);
    expect(p.thrown).toEqual([]);
    expect(p.names).toContain('still_works');
  });
});
