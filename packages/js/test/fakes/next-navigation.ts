// Stands in for `next/navigation` in the tests (vitest.config.ts aliases it): the two App Router
// hooks over the real address bar. As in Next.js, the URL has changed before components
// re-render, and the search params object is a new one per URL.
import { useMemo, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
const subscribe = (listener: () => void) => {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
};

/** `router.push(url)`: update the address bar, then re-render the subscribed components. */
export function navigate(url: string): void {
  window.history.pushState({ __NA: true }, '', url);
  for (const listener of listeners) listener();
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => window.location.pathname);
}

export function useSearchParams(): URLSearchParams {
  const search = useSyncExternalStore(subscribe, () => window.location.search);
  return useMemo(() => new URLSearchParams(search), [search]);
}
