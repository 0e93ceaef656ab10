// Shared helpers for the compatibility scripts: read the JSON config, record every request the
// clients make (an instrumented fetch), and print one JSON result on stdout.
import { readFileSync } from 'node:fs';

/** The JSON config: argv[2] is a JSON string, or "-" to read it from stdin. */
export function readConfig() {
  const arg = process.argv[2];
  if (!arg) throw new Error('usage: node <script>.mjs <json config | ->');
  return JSON.parse(arg === '-' ? readFileSync(0, 'utf8') : arg);
}

/**
 * Wrap a fetch so every call is recorded as {url, method, headers, body, status, text}.
 *
 * extraHeaders are added to each request (e.g. the Origin and User-Agent a browser would send,
 * which Node's fetch does not). With serialize, a request starts only when the previous one has
 * finished, so the server receives them in call order.
 */
export function instrumentFetch(realFetch, { extraHeaders = {}, serialize = false } = {}) {
  const requests = [];
  const inflight = new Set();
  let chain = Promise.resolve();

  async function send(record, input, init) {
    const headers = { ...(init.headers ?? {}), ...extraHeaders };
    record.headers = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const res = await realFetch(input, { ...init, headers });
    record.status = res.status;
    record.text = await res.clone().text();
    return res;
  }

  function fetchWrapper(input, init = {}) {
    const record = {
      url: String(input),
      method: init.method ?? 'GET',
      body: typeof init.body === 'string' ? JSON.parse(init.body) : null,
      status: null,
      text: null,
      error: null,
    };
    requests.push(record);
    const run = () => send(record, input, init);
    const promise = serialize ? chain.then(run, run) : run();
    if (serialize) chain = promise.catch(() => undefined);
    const tracked = promise.catch((err) => {
      record.error = String(err);
      throw err;
    });
    inflight.add(tracked);
    tracked.finally(() => inflight.delete(tracked)).catch(() => undefined);
    return tracked;
  }

  /** Wait until `count` requests were made and none is in flight (or time out). */
  async function settle(count, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (requests.length >= count && inflight.size === 0) {
        // Give a debounced or chained call one more chance to start.
        await sleep(20);
        if (inflight.size === 0) return;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${count} requests (saw ${requests.length})`);
      }
      await sleep(10);
    }
  }

  return { fetch: fetchWrapper, requests, settle };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function output(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
