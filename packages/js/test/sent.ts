// A fetch stub for the jsdom test environment: what each client (by its client id) sent.
import { vi } from 'vitest';

export interface Sent {
  clientId: string;
  type: string;
  payload: { name?: string; properties?: Record<string, unknown>; [k: string]: unknown };
}

export function recordFetch(): Sent[] {
  const sent: Sent[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (_url: string, init: RequestInit) => {
      const headers = init.headers as Record<string, string>;
      const body = JSON.parse(String(init.body));
      sent.push({ clientId: headers['openpanel-client-id'], ...body });
      return { status: 200 };
    }),
  );
  return sent;
}

let counter = 0;
/** A client id no other test uses (clients live as long as the page). */
export const freshClientId = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;

/** The `__path` of every screen view `clientId` sent. */
export const views = (sent: Sent[], clientId: string) =>
  sent
    .filter((s) => s.clientId === clientId && s.payload.name === 'screen_view')
    .map((s) => s.payload.properties!.__path);

export const events = (sent: Sent[], clientId: string) =>
  sent.filter((s) => s.clientId === clientId).map((s) => s.payload.name ?? s.type);
