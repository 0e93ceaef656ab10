// @vitest-environment jsdom
// The ESM client (src/index.ts) in a jsdom page: createOpenPanel, new OpenPanel, the
// window.op facade, retries with fake timers.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  METHODS,
  OpenPanel,
  SDK_NAME,
  SDK_VERSION,
  createOpenPanel,
  windowOpenPanel,
  type OpenPanelOptions,
  type TrackRequest,
} from '../src/index.js';
import { readFileSync } from 'node:fs';

const CLIENT_ID = 'c1d2e3f4-0000-4000-8000-000000000001';
let sent: TrackRequest[];
let statuses: number[];

beforeEach(() => {
  sent = [];
  statuses = [];
  history.replaceState(null, '', '/');
  vi.stubGlobal(
    'fetch',
    vi.fn(async (_url: string, init: RequestInit) => {
      sent.push(JSON.parse(String(init.body)));
      return { status: statuses.shift() ?? 200 };
    }),
  );
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  delete (window as { op?: unknown }).op;
});

// Clients live as long as the page (their history hooks too): only the first test tracks views.
const make = (extra: Partial<OpenPanelOptions> = {}) =>
  createOpenPanel({
    clientId: CLIENT_ID,
    apiUrl: 'https://ingest.example/api',
    trackScreenViews: false,
    ...extra,
  });

describe('createOpenPanel', () => {
  test('sends the first screen view, SPA views and events to {apiUrl}/track', async () => {
    vi.useFakeTimers();
    const op = make({ trackScreenViews: true });
    op.track('hello', { a: 1 });
    history.pushState({}, '', '/next');
    await vi.advanceTimersByTimeAsync(60);
    expect(vi.mocked(fetch).mock.calls[0][0]).toBe('https://ingest.example/api/track');
    expect(sent).toEqual([
      { type: 'track', payload: { name: 'screen_view', properties: { __path: 'https://shop.example/' } } },
      {
        type: 'track',
        payload: { name: 'hello', properties: { a: 1, __path: 'https://shop.example/' } },
      },
      {
        type: 'track',
        payload: { name: 'screen_view', properties: { __path: 'https://shop.example/next' } },
      },
    ]);
  });

  test('new OpenPanel(options) is the same client', () => {
    const op = new OpenPanel({ clientId: CLIENT_ID, trackScreenViews: false });
    expect(Object.keys(op).sort()).toEqual([...METHODS].sort());
    op.track('x');
    expect(vi.mocked(fetch).mock.calls[0][0]).toBe('https://api.openpanel.dev/track');
  });

  test('the constants come from the Python core', () => {
    expect(SDK_NAME).toBe('openpanel-browser');
    expect(SDK_VERSION).toBe(
      JSON.parse(readFileSync('package.json', 'utf8')).version, // npm test runs here
    );
  });

  test('methods never throw, whatever they are given', () => {
    const op = make();
    const calls: [keyof typeof op, unknown[]][] = [
      ['track', [null]],
      ['identify', [null]],
      ['identify', [undefined]],
      ['increment', [null]],
      ['setGroups', [null]],
      ['setGlobalProperties', [null]],
      ['upsertGroup', [undefined]],
      ['screenView', [null]],
    ];
    for (const [name, args] of calls) {
      expect(() => (op[name] as (...a: unknown[]) => void)(...args)).not.toThrow();
    }
    vi.stubGlobal('fetch', () => {
      throw new Error('no network');
    });
    expect(() => op.track('offline')).not.toThrow();
  });

  test('retries 5xx and network errors with backoff, then gives up', async () => {
    vi.useFakeTimers();
    statuses = [502, 503, 504, 500, 500];
    const op = make();
    op.track('flaky');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(60000);
    expect(sent).toHaveLength(4);
  });

  test('401 is not retried', async () => {
    vi.useFakeTimers();
    statuses = [401];
    make().track('refused');
    await vi.advanceTimersByTimeAsync(10000);
    expect(sent).toHaveLength(1);
  });
});

describe('windowOpenPanel', () => {
  test('installs the queue stub when the script has not loaded, and queues into it', () => {
    const op = windowOpenPanel();
    op.track('queued', { a: 1 });
    op.identify({ profileId: 'u1' });
    const stub = (window as unknown as { op: { q: IArguments[] } }).op;
    expect(stub.q.map((args) => Array.from(args))).toEqual([
      ['track', 'queued', { a: 1 }],
      ['identify', { profileId: 'u1' }],
    ]);
    expect(sent).toEqual([]);
  });

  test('forwards to a loaded window.op', () => {
    const calls: unknown[][] = [];
    (window as unknown as { op: unknown }).op = (...args: unknown[]) => calls.push(args);
    const op = windowOpenPanel();
    op.revenue(100, { plan: 'pro' });
    op.screenView('/x');
    expect(calls).toEqual([
      ['revenue', 100, { plan: 'pro' }],
      ['screenView', '/x'],
    ]);
  });

  test('a broken window.op does not throw', () => {
    (window as unknown as { op: unknown }).op = () => {
      throw new Error('broken');
    };
    expect(() => windowOpenPanel().track('x')).not.toThrow();
  });
});
