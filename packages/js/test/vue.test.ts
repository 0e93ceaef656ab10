// @vitest-environment jsdom
// openpanel-browser/vue with Vue Testing Library and Vue Router.
import { cleanup, fireEvent, render, screen } from '@testing-library/vue';
import { defineComponent, h, getCurrentInstance } from 'vue';
import {
  RouterLink,
  RouterView,
  createMemoryHistory,
  createRouter,
  createWebHashHistory,
  createWebHistory,
  type Router,
} from 'vue-router';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createOpenPanel } from '../src/index.js';
import {
  OpenPanelKey,
  OpenPanelPlugin,
  useOpenPanel,
  type OpenPanelPluginOptions,
} from '../src/vue.js';
import { events, freshClientId, recordFetch, views, type Sent } from './sent.js';

let sent: Sent[];
beforeEach(() => {
  sent = recordFetch();
  window.history.replaceState(null, '', '/');
  document.title = 'Shop';
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  delete (window as { op?: unknown }).op;
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const BuyButton = defineComponent({
  setup() {
    const op = useOpenPanel();
    return () => h('button', { onClick: () => op.track('buy', { sku: 'A1' }) }, 'Buy');
  },
});

// A template-style use of the global property.
const Signup = defineComponent({
  setup() {
    const proxy = getCurrentInstance()!.proxy!;
    return () => h('button', { onClick: () => proxy.$op.track('signup') }, 'Sign up');
  },
});

const Home = defineComponent({ render: () => h('p', 'Home') });
const Pricing = defineComponent({
  setup() {
    document.title = 'Pricing';
    return () => h('p', 'Pricing page');
  },
});

const App = defineComponent({
  render: () => [
    h(RouterLink, { to: '/pricing?plan=pro' }, () => 'Pricing'),
    h(RouterView),
    h(BuyButton),
  ],
});

function mount(router: Router, options: OpenPanelPluginOptions) {
  return render(App, { global: { plugins: [router, [OpenPanelPlugin, { router, ...options }]] } });
}

const routes = [
  { path: '/', component: Home },
  { path: '/pricing', component: Pricing },
  { path: '/about', component: Home },
];

describe('OpenPanelPlugin and useOpenPanel', () => {
  test('the plugin makes a client: useOpenPanel() and $op', async () => {
    const clientId = freshClientId();
    render(defineComponent({ render: () => [h(BuyButton), h(Signup)] }), {
      global: { plugins: [[OpenPanelPlugin, { clientId }]] },
    });
    await fireEvent.click(screen.getByText('Buy'));
    await fireEvent.click(screen.getByText('Sign up'));
    expect(events(sent, clientId)).toEqual(['screen_view', 'buy', 'signup']);
  });

  test('a client made elsewhere is provided as is', () => {
    const clientId = freshClientId();
    const client = createOpenPanel({ clientId, trackScreenViews: false });
    let injected: unknown;
    const Probe = defineComponent({
      setup() {
        injected = useOpenPanel();
        return () => null;
      },
    });
    render(Probe, { global: { plugins: [[OpenPanelPlugin, { client }]] } });
    expect(injected).toBe(client);
  });

  test('without the plugin, calls go to the script tag (window.op)', async () => {
    render(BuyButton);
    await fireEvent.click(screen.getByText('Buy'));
    const queued = (window as unknown as { op: { q: IArguments[] } }).op.q;
    expect(queued.map((args) => Array.from(args))).toEqual([['track', 'buy', { sku: 'A1' }]]);
    // outside setup, too
    useOpenPanel().track('outside');
    expect(queued).toHaveLength(2);
  });

  test('the injection key is exported', () => {
    const clientId = freshClientId();
    let injected: unknown;
    const Probe = defineComponent({
      inject: { op: { from: OpenPanelKey } },
      setup: () => () => null,
      mounted() {
        injected = (this as unknown as { op: unknown }).op;
      },
    });
    render(Probe, { global: { plugins: [[OpenPanelPlugin, { clientId, trackScreenViews: false }]] } });
    expect(typeof (injected as { track: unknown }).track).toBe('function');
  });
});

describe('Vue Router page views', () => {
  test('memory history: a view per navigation, with the new page title', async () => {
    const clientId = freshClientId();
    const router = createRouter({ history: createMemoryHistory('/app/'), routes });
    await router.push('/');
    mount(router, { clientId, trackScreenViews: false });
    await fireEvent.click(screen.getByText('Pricing'));
    await screen.findByText('Pricing page');
    await router.push('/pricing?plan=pro'); // the same page: no second view
    await router.push('/about');
    router.back();
    await wait(20);
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/app/pricing?plan=pro',
      'https://shop.example/app/about',
      'https://shop.example/app/pricing?plan=pro',
    ]);
    const pricing = sent.find((s) => s.clientId === clientId)!.payload.properties!;
    expect(pricing.__title).toBe('Pricing');
  });

  test('web history with the history hook on: one view per navigation', async () => {
    const clientId = freshClientId();
    const router = createRouter({ history: createWebHistory(), routes });
    mount(router, { clientId });
    await router.isReady();
    await fireEvent.click(screen.getByText('Pricing'));
    await screen.findByText('Pricing page');
    await wait(80);
    router.back();
    await screen.findByText('Home');
    await wait(80);
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/',
      'https://shop.example/pricing?plan=pro',
      'https://shop.example/',
    ]);
  });

  test('hash history', async () => {
    const clientId = freshClientId();
    const router = createRouter({ history: createWebHashHistory(), routes });
    mount(router, { clientId, trackScreenViews: false, trackHashChanges: true });
    await router.isReady();
    await fireEvent.click(screen.getByText('Pricing'));
    await screen.findByText('Pricing page');
    await wait(10);
    expect(views(sent, clientId)).toEqual([
      'https://shop.example/#/',
      'https://shop.example/#/pricing?plan=pro',
    ]);
  });

  test('a failed navigation is not a view', async () => {
    const clientId = freshClientId();
    const router = createRouter({ history: createMemoryHistory(), routes });
    router.beforeEach((to) => to.path !== '/pricing');
    await router.push('/');
    mount(router, { clientId, trackScreenViews: false });
    await router.push('/pricing');
    await wait(10);
    expect(views(sent, clientId)).toEqual([]);
  });
});
