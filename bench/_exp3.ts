import { ManagementClient, enc } from '../src/broker/management-client.js';
const m = new ManagementClient({ baseUrl: 'http://127.0.0.1:16672', user: 'guest', password: 'guest' });
const vh = 'qmig-exp-' + Date.now();
await m.ok('PUT', `/vhosts/${enc(vh)}`, {});
await m.setPermission(vh, 'guest', { configure: '.*', write: '.*', read: '.*' });
try {
  await m.ok('PUT', `/policies/${enc(vh)}/ha`, { pattern: '.*', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' }, 'apply-to': 'queues' });
  await m.declareQueue(vh, 'c1', { durable: true, arguments: {} });
  for (const p of [{ 'if-empty': 'true' }, { 'if-empty': true }]) {
    const r = await m.request('DELETE', `/queues/${enc(vh)}/c1`, undefined, { params: p });
    console.log(r.status, JSON.stringify(r.data));
    await m.declareQueue(vh, 'c1', { durable: true, arguments: {} });
  }
  const r = await m.request('DELETE', `/queues/${enc(vh)}/c1?if-empty=true`);
  console.log(r.status, JSON.stringify(r.data));
} finally {
  await m.deleteIfExists(`/vhosts/${enc(vh)}`);
}
