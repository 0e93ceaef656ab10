// The ESM and CJS entry: `import { createOpenPanel } from 'openpanel-browser'`.
// Importing it touches no browser global, so it is safe in server-side rendering.
import {
  METHODS,
  createOpenPanel,
  type OpenPanel as OpenPanelClient,
  type OpenPanelOptions,
} from './core.js';

export {
  METHODS,
  createOpenPanel,
  type GroupOptions,
  type IdentifyOptions,
  type IncrementOptions,
  type OpenPanelOptions,
  type ProfileId,
  type Properties,
} from './core.js';
export type * from './generated/protocol.js';

/** The `openpanel-sdk-name` header this package sends. */
export const SDK_NAME = __OP_SDK_NAME__;
/** This package's version: the version of the whole OpenPanel Python SDK suite. */
export const SDK_VERSION = __OP_SDK_VERSION__;

/** An OpenPanel browser client (see `createOpenPanel`). */
export type OpenPanel = OpenPanelClient;

/** `new OpenPanel(options)`: the same as `createOpenPanel(options)`. */
export const OpenPanel = function OpenPanel(options: OpenPanelOptions) {
  return createOpenPanel(options);
} as unknown as new (options: OpenPanelOptions) => OpenPanelClient;

/** The `window.op` function of the script tag: `op('track', 'signup', {plan: 'pro'})`. */
export interface OpFunction {
  (method: 'init', options: OpenPanelOptions): void;
  <M extends (typeof METHODS)[number]>(method: M, ...args: Parameters<OpenPanelClient[M]>): void;
  /** The calls queued by the inline stub before the script loaded. */
  q?: ArrayLike<unknown>[];
  /** Set once the script runs. */
  version?: string;
}

/**
 * A client that forwards every call to the script tag's `window.op` (so apps whose page
 * already loads `op.js`, e.g. from the Python web bridge, share that one client). When
 * `window.op` is missing it installs the queue stub, so calls wait for the script.
 * Without a `window` every method does nothing.
 */
export function windowOpenPanel(): OpenPanelClient {
  const client = {} as Record<string, (...args: unknown[]) => void>;
  for (const name of METHODS) {
    client[name] = (...args) => {
      try {
        if (typeof window != 'object') return;
        const w = window as unknown as { op?: OpFunction };
        const op: OpFunction =
          w.op ||
          (w.op = function (this: unknown) {
            // eslint-disable-next-line prefer-rest-params
            (op.q = op.q || []).push(arguments);
          } as OpFunction);
        (op as (...a: unknown[]) => void)(name, ...args);
      } catch {
        // never throw into the page
      }
    };
  }
  return client as unknown as OpenPanelClient;
}
