// jsdom pages that run the built script tag (dist/op.js bytes, built in memory) and record what
// it sends. Each page is a fresh window: the script's state never leaks between tests.
import { JSDOM, VirtualConsole } from 'jsdom';
import { buildIife } from '../build.mjs';

export const SCRIPT = (await buildIife()).toString('utf8');
/** The inline stub that openpanel_web_bridge.render_snippet writes before the script tag. */
export const STUB =
  'window.op=window.op||function(){(window.op.q=window.op.q||[]).push(arguments)};';
export const CLIENT_ID = '5c5b4b6e-7a0b-4c3e-9d7e-2f1a6b0c9d11';

export interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  keepalive: boolean;
  body: { type: string; payload: Record<string, unknown> };
}

export type Respond = (request: Sent) => Promise<{ status: number }>;

export interface PageOptions {
  url?: string;
  referrer?: string;
  /** The fetch answer (default 200). */
  respond?: Respond;
  /** Runs before any script, e.g. to set navigator.doNotTrack. */
  setup?: (window: Window) => void;
}

const BODY = `<!doctype html><html><head><title>Start</title></head><body>
  <button id="signup" data-track="signup_click" data-plan-name="pro"><span id="inner">Sign up</span></button>
  <div id="card" data-track="card_open" data-card-id="42" data-empty=""><p id="card-text">Card</p></div>
  <a id="docs" href="https://docs.example.org/guide">  Read the docs </a>
  <a id="internal" href="/about">About</a>
  <a id="sub" href="https://blog.shop.example/post">Blog</a>
  <a id="mail" href="mailto:hi@shop.example">Mail</a>
  <a id="tagged-out" href="https://partner.example/" data-track="partner_click">Partner</a>
  <p id="plain">Text</p>
</body></html>`;

export class Page {
  readonly dom: JSDOM;
  readonly window: Window & typeof globalThis;
  readonly sent: Sent[] = [];
  /** Errors that reached the page (uncaught in its event loop, or logged by jsdom). */
  readonly errors: string[] = [];
  /** Errors thrown synchronously out of `run`. */
  readonly thrown: string[] = [];
  readonly logs: unknown[][] = [];

  constructor(options: PageOptions = {}) {
    const virtualConsole = new VirtualConsole();
    virtualConsole.on('jsdomError', (e) => this.errors.push(String(e.message)));
    virtualConsole.on('log', (...args: unknown[]) => this.logs.push(args));
    this.dom = new JSDOM(BODY, {
      url: options.url ?? 'https://shop.example/',
      referrer: options.referrer,
      runScripts: 'outside-only',
      pretendToBeVisual: true,
      virtualConsole,
    });
    this.window = this.dom.window as unknown as Window & typeof globalThis;
    const respond: Respond = options.respond ?? (async () => ({ status: 200 }));
    (this.window as unknown as { fetch: unknown }).fetch = (url: string, init: RequestInit) => {
      const request: Sent = {
        url: String(url),
        method: String(init.method),
        headers: init.headers as Record<string, string>,
        keepalive: Boolean(init.keepalive),
        body: JSON.parse(String(init.body)),
      };
      this.sent.push(request);
      return respond(request);
    };
    this.window.addEventListener('error', (e) => this.errors.push(`page error: ${e.message}`));
    // jsdom cannot navigate: a followed link would only log "not implemented".
    this.window.addEventListener('click', (e) => e.preventDefault());
    options.setup?.(this.window);
  }

  /** Evaluate code in the page, as an inline script would. */
  run(code: string): unknown {
    try {
      return (this.window as unknown as { eval(code: string): unknown }).eval(code);
    } catch (e) {
      const err = e as Error;
      this.thrown.push(`${err.name}: ${err.message}`);
      return undefined;
    }
  }

  /** The stub, the given calls, then the script (what a rendered page does). */
  load(calls = ''): this {
    this.run(STUB + calls);
    this.run(SCRIPT);
    return this;
  }

  click(id: string): void {
    this.window.document.getElementById(id)!.click();
  }

  get bodies(): Sent['body'][] {
    return this.sent.map((s) => s.body);
  }

  get names(): string[] {
    return this.bodies.map((b) => String(b.payload.name ?? b.type));
  }

  /** The properties of every event sent. */
  get props(): Record<string, unknown>[] {
    return this.bodies.map((b) => b.payload.properties as Record<string, unknown>);
  }

  close(): void {
    this.window.close();
  }
}

export const init = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ clientId: CLIENT_ID, apiUrl: '/_op/', ...extra });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
