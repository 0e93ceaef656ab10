'use client';
// `openpanel-browser/react`: a provider, `useOpenPanel()` and `usePageView()`.
// The React Router and Next.js App Router page views live in `openpanel-browser/react-router`
// and `openpanel-browser/next`, so this entry needs nothing but React.
import {
  createContext,
  createElement,
  useContext,
  useEffect,
  useState,
  type ReactElement,
  type ReactNode,
} from 'react';
import {
  createOpenPanel,
  windowOpenPanel,
  type OpenPanel,
  type OpenPanelOptions,
} from './index.js';

const Context = createContext<OpenPanel | null>(null);

// One client per clientId for the page's lifetime: StrictMode renders twice, and a remounted
// provider must not send a second first screen view.
const clients = new Map<string, OpenPanel>();

/** Props of `OpenPanelProvider`: the init options, or a `client` made elsewhere. */
export type OpenPanelProviderProps = Partial<OpenPanelOptions> & {
  /** Use this client (from `createOpenPanel`) instead of making one. */
  client?: OpenPanel;
  children?: ReactNode;
};

/**
 * Makes a client for its children (`useOpenPanel()`). With a `clientId` it creates the client
 * once per page (later prop changes are ignored); with `client` it shares that one; with
 * neither, children use the script tag's `window.op` (e.g. a page rendered with the Python web
 * bridge's snippet).
 */
export function OpenPanelProvider({
  client,
  children,
  ...options
}: OpenPanelProviderProps): ReactElement {
  const [value] = useState<OpenPanel>(() => {
    if (client) return client;
    const id = options.clientId;
    if (!id) return windowOpenPanel();
    if (typeof window != 'object') return createOpenPanel(options as OpenPanelOptions);
    let made = clients.get(id);
    if (!made) clients.set(id, (made = createOpenPanel(options as OpenPanelOptions)));
    return made;
  });
  return createElement(Context.Provider, { value }, children);
}

/** The provider's client; outside a provider, a client that forwards to `window.op`. */
export function useOpenPanel(): OpenPanel {
  const client = useContext(Context);
  const [fallback] = useState(windowOpenPanel);
  return client || fallback;
}

/**
 * Sends a `screen_view` whenever `key` changes (after React has committed the new page).
 * `path` is the page's URL (relative or absolute) when the browser's address bar does not
 * hold it (memory routers); by default `location.href`.
 */
export function usePageView(key: unknown, path?: string): void {
  const client = useOpenPanel();
  useEffect(() => {
    try {
      client.screenView(path == null ? undefined : new URL(path, window.location.href).href);
    } catch {
      // never throw into the page
    }
  }, [client, key, path]);
}

export type { OpenPanel, OpenPanelOptions } from './index.js';
