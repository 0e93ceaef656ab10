// The script-tag build (dist/op.js). The page defines the classic queue stub first:
//
//   window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};
//   op('init', {clientId: '...'}); op('track', 'signup', {plan: 'pro'});
//
// then loads this script (async). Queued calls run in order wherever `init` sits: calls made
// before `init` are kept (up to 100) and replayed right after it. The first screen view follows
// the whole queue.
// Once loaded, `op.track(...)` works as well as `op('track', ...)`. Nothing here throws into the
// page: bad calls are ignored, and a stub without `init` just waits.
import { METHODS, makeClient, type OpenPanel, type OpenPanelOptions } from './core.js';

type Call = [string, ...unknown[]];
type Op = ((...call: Call) => void) & Record<string, unknown> & { q?: ArrayLike<Call> };

((w) => {
  const stub = w && (w.op as Op | undefined);
  if (!w || (stub && stub.version)) return; // no browser, or a copy already runs
  let client: OpenPanel | undefined;
  let pending: Call[] = [];
  // While the stub's queue is replayed, the first screen view waits for its end, so that an
  // `identify` queued after `init` (as the Python web bridge renders it) applies to it too.
  let later: (() => void) | 0 | undefined = 0;
  const op = ((name: string, ...args: unknown[]) => {
    try {
      if (name == 'init') {
        const options = args[0] as OpenPanelOptions;
        if (!client && options && options.clientId) {
          const [created, start] = makeClient(options);
          client = created;
          for (const call of pending) op(...call);
          pending = [];
          if (later === 0) later = start;
          else start();
        }
      } else if (client) {
        // Not a method ('unknown', '__proto__'...): not callable, or harmless; caught below.
        (client[name as keyof OpenPanel] as (...a: unknown[]) => void)(...args);
      } else if (pending.length < 100) {
        pending.push([name, ...args]);
      }
    } catch {
      // never throw into the page
    }
  }) as Op;
  for (const name of ['init', ...METHODS]) op[name] = (...args: unknown[]) => op(name, ...args);
  op.version = __OP_SDK_VERSION__;
  const queued = stub && stub.q;
  w.op = op;
  for (let i = 0; queued && i < queued.length; i++) {
    try {
      op(...(Array.prototype.slice.call(queued[i]) as Call));
    } catch {
      // a broken entry is skipped
    }
  }
  const start = later as (() => void) | 0; // set by an init in the queue
  later = undefined;
  if (start) start();
})(typeof window == 'object' ? (window as unknown as { op?: unknown }) : undefined);
