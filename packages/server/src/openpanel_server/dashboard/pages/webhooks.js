// Webhooks: the project's endpoints, an endpoint's latest messages with their delivery state,
// and a message's delivery attempts. A root client gets a Redeliver button on each message;
// read clients (which the API refuses redelivery) see a note instead (see app.js renderRole).
import { getJson, postJson } from '../api.js?v=__ASSETS_VERSION__';
import { $, el, fillTable, integer, when } from '../ui.js?v=__ASSETS_VERSION__';

const MESSAGES = 25;
let selected = { endpoint: '', message: '' };
let action = { text: '', error: false };

function showAction() {
  $('webhooks-action').textContent = action.text;
  $('webhooks-action').classList.toggle('error', action.error);
}

/** Queue a manual redelivery of a message (root clients only), then show its deliveries. */
async function redeliver(ctx, endpointId, message) {
  const path = `/api/webhooks/${encodeURIComponent(endpointId)}/messages/${encodeURIComponent(message.id)}/redeliver`;
  try {
    await postJson(path, {});
    action = { text: `Redelivery of message ${message.id} queued: reload to see its attempt.`, error: false };
  } catch (error) {
    action = { text: `Could not redeliver message ${message.id}: ${error.message}`, error: true };
  }
  selected.message = message.id;
  ctx.reload();
}

function redeliverButton(ctx, endpointId, message) {
  const button = el('button', {
    type: 'button',
    className: 'secondary',
    textContent: 'Redeliver',
    'aria-label': `Redeliver message ${message.id}`,
  });
  // The row is a link too: the button's click and keys are its own.
  button.addEventListener('keydown', (event) => event.stopPropagation());
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    button.disabled = true;
    redeliver(ctx, endpointId, message);
  });
  return button;
}

function state(text) {
  const kind = { delivered: 'ok', succeeded: 'ok', enabled: 'ok', failed: 'bad', exhausted: 'bad' }[text] || 'wait';
  return el('span', { className: `badge ${kind}`, textContent: text });
}

async function messages(ctx, endpoint) {
  const found = await getJson(`/api/webhooks/${encodeURIComponent(endpoint.id)}/messages?limit=${MESSAGES}`);
  if (!ctx.current()) return null;
  const root = ctx.isRoot();
  $('webhooks-messages-card').hidden = false;
  $('webhooks-messages-title').textContent = `Messages to ${endpoint.url} (${integer.format(found.meta.totalCount)})`;
  const columns = [['Created'], ['Event type'], ['State'], ['Attempts', 'num'], ['Last status', 'num'], ['Last error']];
  fillTable(
    $('webhooks-messages'),
    root ? [...columns, ['']] : columns,
    found.data.map((m) => {
      const cells = [
        when(m.createdAt),
        m.eventType,
        state(m.state),
        integer.format(m.attempts),
        m.lastStatus === null ? '–' : String(m.lastStatus),
        m.lastError || '–',
      ];
      return root ? [...cells, redeliverButton(ctx, endpoint.id, m)] : cells;
    }),
    {
      empty: 'No messages yet.',
      onRow: (i) => {
        selected.message = found.data[i].id;
        ctx.reload();
      },
      rowLabel: (i) => `Show the deliveries of message ${found.data[i].id}`,
    },
  );
  for (const [i, tr] of [...$('webhooks-messages').querySelectorAll('tbody tr')].entries()) {
    if (found.data[i] && found.data[i].id === selected.message) tr.setAttribute('aria-selected', 'true');
  }
  return found.data;
}

async function deliveries(ctx, endpointId, messageId) {
  const found = await getJson(
    `/api/webhooks/${encodeURIComponent(endpointId)}/deliveries?messageId=${encodeURIComponent(messageId)}&limit=50`,
  );
  if (!ctx.current()) return null;
  $('webhooks-deliveries-card').hidden = false;
  $('webhooks-deliveries-title').textContent = `Deliveries of message ${messageId}`;
  fillTable(
    $('webhooks-deliveries'),
    [['Started'], ['Attempt', 'num'], ['Trigger'], ['Result'], ['Status', 'num'], ['Duration', 'num'], ['Error']],
    found.data.map((a) => [
      when(a.startedAt),
      String(a.attempt),
      a.trigger,
      state(a.succeeded ? 'succeeded' : 'failed'),
      a.statusCode === null ? '–' : String(a.statusCode),
      `${Math.round(a.durationMs)} ms`,
      a.error || a.errorKind || '–',
    ]),
    { empty: 'No delivery attempts yet.' },
  );
  return found.data;
}

export default {
  id: 'webhooks',
  title: 'Webhooks',
  filters: false,
  range: false,

  async load(ctx) {
    const endpoints = (await getJson('/api/webhooks')).data;
    if (!ctx.current()) return undefined;
    showAction();
    const done = action;
    action = { text: '', error: false }; // shown once
    if (!endpoints.some((e) => e.id === selected.endpoint)) {
      selected = { endpoint: endpoints.length ? endpoints[0].id : '', message: '' };
    }
    fillTable(
      $('webhooks-endpoints'),
      [['URL'], ['Description'], ['Event types'], ['State'], ['Failing since']],
      endpoints.map((e) => [
        e.url,
        e.description || '–',
        e.eventTypes.length ? e.eventTypes.join(', ') : 'all',
        state(e.enabled ? 'enabled' : `disabled${e.disabledReason ? `: ${e.disabledReason}` : ''}`),
        when(e.failingSince),
      ]),
      {
        empty: 'No webhook endpoints: a root client creates them (POST /api/webhooks or the CLI).',
        onRow: (i) => {
          selected = { endpoint: endpoints[i].id, message: '' };
          ctx.reload();
        },
        rowLabel: (i) => `Show the messages of ${endpoints[i].url}`,
      },
    );
    for (const [i, tr] of [...$('webhooks-endpoints').querySelectorAll('tbody tr')].entries()) {
      if (endpoints[i] && endpoints[i].id === selected.endpoint) tr.setAttribute('aria-selected', 'true');
    }
    $('webhooks-messages-card').hidden = true;
    $('webhooks-deliveries-card').hidden = true;
    const endpoint = endpoints.find((e) => e.id === selected.endpoint);
    const shown = {
      endpoints: endpoints.map((e) => ({ id: e.id, url: e.url, enabled: e.enabled })),
      selected: { ...selected },
      redeliver: ctx.isRoot(),
      action: done.text,
    };
    if (!endpoint) return shown;
    const list = await messages(ctx, endpoint);
    if (list === null) return undefined;
    shown.messages = list.map((m) => ({ id: m.id, eventType: m.eventType, state: m.state, lastStatus: m.lastStatus }));
    if (selected.message && list.some((m) => m.id === selected.message)) {
      const attempts = await deliveries(ctx, endpoint.id, selected.message);
      if (attempts === null) return undefined;
      shown.deliveries = attempts.map((a) => ({ attempt: a.attempt, statusCode: a.statusCode, succeeded: a.succeeded }));
    }
    return shown;
  },
};
