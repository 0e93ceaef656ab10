'use client';
// `openpanel-browser/react-router`: page views for React Router (v6.4+ and v7, any router:
// browser, hash or memory). Put `<ReactRouterPageViews />` inside the router.
import { useHref, useLocation } from 'react-router';
import { usePageView } from './react.js';

/** Sends a `screen_view` for every React Router location (basename included). Renders nothing. */
export function ReactRouterPageViews(): null {
  const location = useLocation();
  const href = useHref(location);
  usePageView(href, href);
  return null;
}
