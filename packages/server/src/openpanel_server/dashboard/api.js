// The server's APIs, called with the client's id and secret (kept in sessionStorage only, sent
// as headers, never in a URL): /api/me, /api/analytics/{query}, the realtime
// stream, saved cohorts and the webhook log.

const STORAGE_KEY = 'openpanel.dashboard.credentials';

export function readCredentials() {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (parsed && typeof parsed.id === 'string' && typeof parsed.secret === 'string') {
      return parsed;
    }
  } catch {
    // unreadable: treated as logged out
  }
  return null;
}

export function saveCredentials(id, secret) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ id, secret }));
}

export function forgetCredentials() {
  sessionStorage.removeItem(STORAGE_KEY);
}

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  const credentials = readCredentials();
  if (!credentials) throw new HttpError(401, 'not signed in');
  return {
    ...extra,
    'openpanel-client-id': credentials.id,
    'openpanel-client-secret': credentials.secret,
  };
}

async function failure(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: reported by status
  }
  const fields = data && Array.isArray(data.fields) ? data.fields : [];
  const detail = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return new HttpError(response.status, detail || (data && data.message) || response.statusText);
}

function post(path, body, signal) {
  return fetch(path, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
}

/** POST /api/analytics/{name} with a JSON body; the answer's JSON or an HttpError. */
export async function query(name, body, signal) {
  const response = await post(`/api/analytics/${encodeURIComponent(name)}`, body, signal);
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** GET a JSON API path (the webhook log). */
export async function getJson(path, signal) {
  const response = await fetch(path, {
    headers: headers(),
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** POST a JSON body to an API path; the answer's JSON or an HttpError. */
export async function postJson(path, body) {
  return sendJson('POST', path, body);
}

/**
 * Send a JSON body (or none) with `method` (POST, PUT, DELETE); the answer's JSON (null for an
 * empty answer such as a 204) or an HttpError.
 */
export async function sendJson(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Who is signed in: {clientId, clientType ('read' or 'root'), projectId, projectName, timezone};
 * null from a server without /api/me (404).
 */
export async function whoAmI(signal) {
  try {
    return await getJson('/api/me', signal);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return null;
    throw error;
  }
}

/**
 * Reads a text/event-stream answer with fetch (EventSource cannot send headers) and calls
 * onEvent(name, data) for each event; resolves when the stream ends. Throws an HttpError
 * when the server answers with an error status (404: no stream on this server).
 */
export async function readEventStream(path, onEvent, signal) {
  const response = await fetch(path, {
    headers: headers({ accept: 'text/event-stream' }),
    cache: 'no-store',
    credentials: 'omit',
    signal,
  });
  if (!response.ok) throw await failure(response);
  if (!response.body) throw new HttpError(0, 'the stream has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new EventStreamParser(onEvent);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(value);
  }
}

/** The text/event-stream format (WHATWG HTML 9.2.6), fed with text chunks. */
export class EventStreamParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.event = '';
    this.data = [];
  }

  push(chunk) {
    this.buffer += chunk;
    // A trailing "\r" may be the first half of "\r\n": keep it for the next chunk.
    const cut = this.buffer.endsWith('\r') ? this.buffer.length - 1 : this.buffer.length;
    const lines = this.buffer.slice(0, cut).split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + this.buffer.slice(cut);
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent(this.event || 'message', this.data.join('\n'));
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive ping)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}
