// Server-side rendering: importing every entry and rendering with them touches no browser
// global, throws nothing and sends nothing (this file runs in Node, without a DOM).
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { createMemoryHistory, createRouter } from 'vue-router';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString as renderVue } from 'vue/server-renderer';
import { expect, test, vi } from 'vitest';
import { createOpenPanel, windowOpenPanel } from '../src/index.js';
import { OpenPanelProvider, useOpenPanel, usePageView } from '../src/react.js';
import { OpenPanelPlugin, useOpenPanel as useVueOpenPanel } from '../src/vue.js';

test('no window: the client and the facade do nothing', () => {
  expect(typeof window).toBe('undefined');
  const fetch = vi.fn();
  vi.stubGlobal('fetch', fetch);
  try {
    for (const op of [createOpenPanel({ clientId: 'x', trackLocalhost: true }), windowOpenPanel()]) {
      op.track('server');
      op.identify({ profileId: 'u1', email: 'a@b.example' });
      op.screenView();
      op.increment('n');
    }
    expect(fetch).not.toHaveBeenCalled();
  } finally {
    vi.unstubAllGlobals();
  }
});

test('React: the provider and hooks render on the server', () => {
  function Page() {
    const op = useOpenPanel();
    usePageView('/x');
    op.track('rendering');
    return createElement('p', null, 'hello');
  }
  const html = renderToString(
    createElement(OpenPanelProvider, { clientId: 'x' }, createElement(Page)),
  );
  expect(html).toBe('<p>hello</p>');
});

test('Vue: the plugin and useOpenPanel render on the server', async () => {
  const Page = defineComponent({
    setup() {
      useVueOpenPanel().track('rendering');
      return () => h('p', 'hello');
    },
  });
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/', component: Page }] });
  const app = createSSRApp({ render: () => h(Page) });
  app.use(router).use(OpenPanelPlugin, { clientId: 'x', router });
  await router.push('/');
  expect(await renderVue(app)).toBe('<p>hello</p>');
});
