// The client shared by every build: the script tag (iife.ts), ESM/CJS (index.ts), React, Vue.
// Written for size (it is most of op.js) and for safety: no public method ever throws into the
// page, nothing touches `window` before a client is created (SSR-safe imports).
import type {
  GroupPayload,
  IdentifyPayload,
  IncrementPayload,
  TrackRequest,
} from './generated/protocol.js';

/** Event properties: any JSON values. `null` and `undefined` values are left out. */
export type Properties = Record<string, unknown>;

/** A profile id, as OpenPanel accepts it. */
export type ProfileId = string | number;

/** The options of `op('init', options)` and `createOpenPanel(options)`. */
export interface OpenPanelOptions {
  /** The project's client id (required). Never put a client secret in a browser. */
  clientId: string;
  /** Where `/track` lives. Default `https://api.openpanel.dev`; the Python web bridge sets its
   * same-origin prefix (`/_op`). */
  apiUrl?: string;
  /** A `screen_view` on load and on every SPA navigation (pushState, replaceState, popstate).
   * Default true. */
  trackScreenViews?: boolean;
  /** Hash changes are navigations too (`#/route` apps). Default false. */
  trackHashChanges?: boolean;
  /** A `link_out` event (`href`, `text`) for clicks on links to other hosts. Default false. */
  trackOutgoingLinks?: boolean;
  /** Clicks inside an element with `data-track="event_name"` send that event; its other
   * `data-*` attributes become camelCased properties. Default false. */
  trackAttributes?: boolean;
  /** Send nothing when the browser says Do-Not-Track or Global Privacy Control. Default false. */
  respectPrivacySignals?: boolean;
  /** Track pages served from localhost, 127.x, [::1], *.localhost or file:. Default false. */
  trackLocalhost?: boolean;
  /** Track browsers driven by automation (`navigator.webdriver`). Default false. */
  trackAutomation?: boolean;
  /** Send nothing at all (events are dropped, not queued). Default false. */
  disabled?: boolean;
  /** Log every request, and why nothing is sent, to the console. Default false. */
  debug?: boolean;
}

/** `identify(...)`: the profile fields; `profileId` is kept for the events that follow. */
export type IdentifyOptions = IdentifyPayload;

/** `increment(...)` / `decrement(...)`: `profileId` defaults to the identified profile;
 * `value` defaults to 1 on the server. */
export type IncrementOptions = Omit<IncrementPayload, 'profileId'> & { profileId?: ProfileId };

/** `upsertGroup(...)`: create or update a group. */
export type GroupOptions = GroupPayload;

/** An OpenPanel browser client. Every method returns nothing and never throws. */
export interface OpenPanel {
  /** Send an event. `properties.profileId` and `properties.groups` override the identified
   * profile and add groups for this event only. */
  track(name: string, properties?: Properties): void;
  /** Send a `screen_view` (`__path` is `location.href` unless given, plus `__title`; every
   * event carries `__referrer` and the last view's `__path`). The same page twice in a row is
   * sent once. */
  screenView(path?: string | Properties, properties?: Properties): void;
  /** Set the profile of the events that follow; with more than a `profileId`, also create or
   * update the profile. */
  identify(user: IdentifyOptions): void;
  /** Add to a numeric profile property: `increment('logins')`, `increment('credits', 5)` or
   * `increment({profileId, property, value})`. */
  increment(property: string | IncrementOptions, value?: number): void;
  /** Subtract from a numeric profile property (same arguments as `increment`). */
  decrement(property: string | IncrementOptions, value?: number): void;
  /** A `revenue` event with `__revenue: amount` (integer cents). */
  revenue(amount: number, properties?: Properties): void;
  /** Properties added to every later event (merged into the earlier ones). */
  setGlobalProperties(properties: Properties): void;
  /** Add the profile (or the device) to a group; later events carry it. */
  setGroup(groupId: string): void;
  /** Add the profile (or the device) to groups; later events carry them. */
  setGroups(groupIds: string[]): void;
  /** Create or update a group. */
  upsertGroup(group: GroupOptions): void;
  /** Forget the profile and the groups (on logout). Global properties stay. */
  clear(): void;
}

/** The method names of `OpenPanel`, in the order `op.<method>` is defined on `window.op`. */
export const METHODS = [
  'track',
  'screenView',
  'identify',
  'increment',
  'decrement',
  'revenue',
  'setGlobalProperties',
  'setGroup',
  'setGroups',
  'upsertGroup',
  'clear',
] as const;

type Body = TrackRequest;
type Payload<T extends Body['type']> = Extract<Body, { type: T }>['payload'];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => void;

const RETRIES = 3; // after the first attempt: 0.5 s, 1 s, 2 s (as @openpanel/sdk)
const KEEPALIVE_MAX = 60000; // browsers refuse keepalive bodies over 64 KiB
const LOCAL = /^(localhost|0\.0\.0\.0|\[::1?\]|)$|^127\.|\.localhost$/;

/** A shallow copy without `null` and `undefined` values: optional fields are never null. */
const compact = <T extends object>(obj: T): T => {
  const out = {} as T;
  for (const key in obj) if (obj[key] != null) out[key] = obj[key];
  return out;
};

/**
 * The client and the function that starts its automatic tracking (the first screen view,
 * history and click listeners). The script tag replays queued calls between the two, so that
 * `identify` and `setGlobalProperties` queued before `init` apply to the first screen view.
 */
export function makeClient(options: OpenPanelOptions): [OpenPanel, () => void] {
  const o = Object(options) as OpenPanelOptions;
  const w = typeof window == 'object' ? window : undefined;
  const nav = w && w.navigator;
  const debug = !!o.debug;
  const log: Fn = (...args) => {
    if (debug) console.log('[openpanel]', ...args); // eslint-disable-line no-console
  };
  // Why nothing is sent (the option that changes it), or '' when events go out.
  const off = !w
    ? 'window'
    : o.disabled
      ? 'disabled'
      : !o.clientId
        ? 'clientId'
        : !o.trackLocalhost && LOCAL.test(w.location.hostname) // file: pages have no host
          ? 'trackLocalhost'
          : !o.trackAutomation && nav!.webdriver
            ? 'trackAutomation'
            : o.respectPrivacySignals &&
                ((nav as unknown as { globalPrivacyControl?: boolean }).globalPrivacyControl ||
                  nav!.doNotTrack == '1' ||
                  (w as unknown as { doNotTrack?: string }).doNotTrack == '1')
              ? 'respectPrivacySignals'
              : '';
  if (off) log('off:', off);

  const url = String(o.apiUrl || __OP_DEFAULT_API_URL__).replace(/\/+$/, '') + __OP_TRACK_PATH__;
  const hashes = !!o.trackHashChanges;
  let globals: Properties = {};
  let profileId: ProfileId | undefined;
  let groups: string[] = [];
  let lastView: string | undefined;
  // As @openpanel/web: every event carries the page's referrer and the last screen view's
  // path, so whichever event reaches the server first opens the session with them.
  let lastPath: string | undefined;
  const referrer = (w && w.document.referrer) || undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const post = (body: string, attempt: number): void => {
    const retry = () => {
      if (attempt < RETRIES) setTimeout(() => post(body, attempt + 1), 500 << attempt);
    };
    try {
      w!
        .fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [__OP_HEADERS_CLIENT_ID__]: o.clientId,
            [__OP_HEADERS_SDK_NAME__]: __OP_SDK_NAME__,
            [__OP_HEADERS_SDK_VERSION__]: __OP_SDK_VERSION__,
          },
          body,
          keepalive: body.length < KEEPALIVE_MAX,
        })
        .then((r) => {
          // 429 and 5xx are worth another try; other 4xx (a bad event) are not.
          if (r.status == 429 || r.status > 499) retry();
        }, retry);
    } catch (e) {
      log(e); // no fetch at all: nothing to retry
    }
  };

  const send = <T extends Body['type']>(type: T, payload: Payload<T>): void => {
    if (off) return;
    log(type, payload);
    post(JSON.stringify({ type, payload }), 0);
  };

  // Every public method: swallow and log whatever goes wrong; nothing reaches the page.
  const guard =
    <F extends Fn>(fn: F): F =>
    ((...args: unknown[]) => {
      try {
        fn(...args);
      } catch (e) {
        log(e);
      }
    }) as F;

  const track = (name: string, properties?: Properties): void => {
    if (typeof name != 'string' || !name) return;
    const { profileId: id, groups: extra, ...props } = Object(properties) as Properties;
    const all = groups.concat((extra as string[]) || []);
    send(
      'track',
      compact({
        name,
        profileId: (id as ProfileId) ?? profileId,
        groups: all.length ? all : undefined,
        properties: compact({
          __referrer: referrer,
          __path: lastPath || (w && w.location.href),
          ...globals,
          ...props,
        }),
      }),
    );
  };

  const screenView = (path?: string | Properties, properties?: Properties): void => {
    if (typeof path != 'string') {
      properties = path;
      path = w!.location.href;
    }
    const key = hashes ? path : path.split('#')[0];
    if (key == lastView) return;
    lastView = key;
    lastPath = path;
    track('screen_view', {
      ...properties,
      __path: path,
      __title: w!.document.title || undefined,
    });
  };

  const adjust =
    (type: 'increment' | 'decrement') =>
    (property: string | IncrementOptions, value?: number): void => {
      const p: IncrementOptions = typeof property == 'string' ? { property, value } : property;
      const id = p.profileId ?? profileId;
      if (id != null && p.property) send(type, compact({ ...p, profileId: id }));
    };

  const setGroups = (ids: string[]): void => {
    groups = groups.concat(ids.filter((id) => groups.indexOf(id) < 0));
    send('assign_group', compact({ groupIds: ids, profileId }));
  };

  const client: OpenPanel = {
    track,
    screenView,
    identify(user) {
      const { profileId: id, properties, ...traits } = user;
      if (id != null) profileId = id;
      const fields = compact(traits);
      if (profileId != null && (properties || Object.keys(fields).length)) {
        send('identify', {
          ...fields,
          profileId,
          properties: compact({ ...globals, ...properties }),
        });
      }
    },
    increment: adjust('increment'),
    decrement: adjust('decrement'),
    revenue(amount, properties) {
      track('revenue', { ...properties, __revenue: amount });
    },
    setGlobalProperties(properties) {
      globals = { ...globals, ...properties };
    },
    setGroup(id) {
      setGroups([id]);
    },
    setGroups,
    upsertGroup(group) {
      send('group', compact(group));
    },
    clear() {
      profileId = undefined;
      groups = [];
    },
  };
  for (const name of METHODS) (client as unknown as Record<string, Fn>)[name] = guard(client[name] as Fn);

  const start = guard(() => {
    if (off) return;
    const view = guard(() => client.screenView());
    // After a navigation, wait for the app to set the new title; two quick pushes are one view.
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(view, 50);
    };
    const history = w!.history;
    if (o.trackScreenViews !== false) {
      for (const method of ['pushState', 'replaceState'] as const) {
        const original = history[method];
        history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
          const result = original.apply(this, args); // the page's own errors stay its own
          schedule();
          return result;
        };
      }
      w!.addEventListener('popstate', schedule);
      if (hashes) w!.addEventListener('hashchange', schedule);
      view();
    }
    if (o.trackAttributes || o.trackOutgoingLinks) {
      w!.document.addEventListener(
        'click',
        guard((event: Event) => {
          const target = event.target as Element;
          const tagged = o.trackAttributes && (target.closest('[data-track]') as HTMLElement);
          if (tagged) {
            const { track: name, ...props } = tagged.dataset;
            track(name!, props);
          }
          const link = o.trackOutgoingLinks && (target.closest('a[href]') as HTMLAnchorElement);
          if (link && link.host && link.host != w!.location.host) {
            track('link_out', {
              href: link.href,
              text: (link.innerText || link.textContent || '').trim() || undefined,
            });
          }
        }),
        true,
      );
    }
  });

  return [client, start];
}

/** Create a client and start its automatic tracking. Without a `window` (server-side
 * rendering, workers without DOM) every method does nothing. */
export function createOpenPanel(options: OpenPanelOptions): OpenPanel {
  const [client, start] = makeClient(options);
  start();
  return client;
}
