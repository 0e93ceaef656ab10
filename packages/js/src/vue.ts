// `openpanel-browser/vue`: `app.use(OpenPanelPlugin, {clientId, router})`, `useOpenPanel()`,
// `this.$op` in templates, and page views for Vue Router.
import { hasInjectionContext, inject, nextTick, type App, type InjectionKey } from 'vue';
import {
  createOpenPanel,
  windowOpenPanel,
  type OpenPanel,
  type OpenPanelOptions,
} from './index.js';

/** The injection key of the plugin's client. */
export const OpenPanelKey: InjectionKey<OpenPanel> = Symbol('openpanel');

/** The part of a Vue Router (v4+) the plugin uses. */
export interface RouterLike {
  afterEach(
    guard: (to: { fullPath: string }, from: unknown, failure?: unknown) => unknown,
  ): unknown;
  resolve(to: string): { href: string };
}

/** Options of `OpenPanelPlugin`: the init options, or a `client` made elsewhere. */
export type OpenPanelPluginOptions = Partial<OpenPanelOptions> & {
  /** Use this client instead of making one. */
  client?: OpenPanel;
  /** A `screen_view` after every successful Vue Router navigation (works with web, hash and
   * memory histories). */
  router?: RouterLike;
};

/**
 * Provides the client to the app (`useOpenPanel()`, `$op`). With a `clientId` it creates one;
 * with `client` it uses that one; with neither it forwards to the script tag's `window.op`.
 */
export const OpenPanelPlugin = {
  install(app: App, options: OpenPanelPluginOptions = {}): void {
    const { client, router, ...init } = options;
    const op =
      client || (init.clientId ? createOpenPanel(init as OpenPanelOptions) : windowOpenPanel());
    app.provide(OpenPanelKey, op);
    app.config.globalProperties.$op = op;
    if (router) {
      router.afterEach((to, _from, failure) => {
        if (failure) return;
        // After the DOM update, so a title set by the new page is in the view.
        void nextTick(() => {
          try {
            op.screenView(new URL(router.resolve(to.fullPath).href, window.location.href).href);
          } catch {
            // never throw into the page
          }
        });
      });
    }
  },
};

/** The plugin's client; without the plugin (or outside setup), one that forwards to
 * `window.op`. */
export function useOpenPanel(): OpenPanel {
  return (hasInjectionContext() && inject(OpenPanelKey, null)) || windowOpenPanel();
}

declare module 'vue' {
  interface ComponentCustomProperties {
    /** The OpenPanel client of `OpenPanelPlugin`. */
    $op: OpenPanel;
  }
}

export type { OpenPanel, OpenPanelOptions } from './index.js';
