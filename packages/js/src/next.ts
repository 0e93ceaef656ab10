'use client';
// `openpanel-browser/next`: page views for the Next.js App Router. Put `<NextPageViews />` in the
// root layout, inside `OpenPanelProvider` (or on a page that loads the script tag).
import { Suspense, createElement, type ReactElement } from 'react';
import { usePathname, useSearchParams } from 'next/navigation';
import { usePageView } from './react.js';

function Views(): null {
  const pathname = usePathname();
  const search = useSearchParams();
  // The App Router has updated the address bar by now: the view's path is location.href
  // (so basePath and the hash are right).
  usePageView(`${pathname}?${search}`);
  return null;
}

/** Sends a `screen_view` for every App Router navigation. Renders nothing. It reads the search
 * params, so it sits in its own `Suspense` boundary (static pages stay static). */
export function NextPageViews(): ReactElement {
  return createElement(Suspense, { fallback: null }, createElement(Views));
}
