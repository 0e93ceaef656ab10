// @openpanel/sdk (the Node client) against the server: every method, one result per call.
//
// Config: {apiUrl, clientId, clientSecret, tag, scenario: "roundtrip" | "wrong_secret"}.
// Output: {calls: [{name, result, requests, deviceId, sessionId}], requests: [...]}, where
// `requests` in a call is the number of HTTP requests the SDK made while the call ran.
import { OpenPanel } from '@openpanel/sdk';
import { instrumentFetch, output, readConfig } from './harness.mjs';

const config = readConfig();
const recorder = instrumentFetch(globalThis.fetch.bind(globalThis));
globalThis.fetch = recorder.fetch;

const errors = [];
const originalError = console.error;
console.error = (...args) => {
  errors.push(args.map(String).join(' '));
};

const op = new OpenPanel({
  apiUrl: config.apiUrl,
  clientId: config.clientId,
  clientSecret: config.clientSecret,
});

const calls = [];
async function call(name, fn) {
  const before = recorder.requests.length;
  const result = await fn();
  await recorder.settle(before); // nothing else may still be running (no retries, no flushes)
  calls.push({
    name,
    result: result === undefined ? '<undefined>' : result,
    requests: recorder.requests.length - before,
    deviceId: op.getDeviceId(),
    sessionId: op.getSessionId(),
  });
}

const tag = config.tag;
const profileId = `node-user-${tag}`;
const groupId = `acme-${tag}`;

if (config.scenario === 'roundtrip') {
  op.setGlobalProperties({ app: 'compat', tag });
  await call('track', () =>
    op.track(`node_track_${tag}`, {
      profileId,
      groups: ['g-explicit'],
      plan: 'pro',
      cart: { items: 2, currency: 'EUR' },
    }),
  );
  await call('identify', () =>
    op.identify({
      profileId,
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      properties: { tier: 'gold', nested: { level: 3 } },
    }),
  );
  await call('increment', () => op.increment({ profileId, property: 'visits' }));
  await call('increment_by', () => op.increment({ profileId, property: 'visits', value: 5 }));
  await call('decrement', () => op.decrement({ profileId, property: 'visits', value: 2 }));
  await call('upsertGroup', () =>
    op.upsertGroup({ id: groupId, type: 'company', name: 'Acme', properties: { seats: 10 } }),
  );
  await call('setGroup', () => op.setGroup(groupId));
  await call('track_after_group', () => op.track(`node_after_group_${tag}`, { step: 2 }));
  await call('revenue', () => op.revenue(1299, { currency: 'EUR' }));
  await call('revenue_device', () =>
    op.revenue(499, { deviceId: `device-${tag}`, currency: 'USD' }),
  );
} else if (config.scenario === 'wrong_secret') {
  const mallory = `node-mallory-${tag}`;
  await call('track', () => op.track(`node_wrong_secret_${tag}`, { profileId: mallory }));
  await call('identify', () => op.identify({ profileId: mallory, firstName: 'Mallory' }));
} else {
  throw new Error(`unknown scenario ${config.scenario}`);
}

console.error = originalError;
output({ calls, requests: recorder.requests, errors });
