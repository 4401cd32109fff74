/**
 * A transfer entirely over TLS between the two real test clusters: the caller reaches the source
 * sidecar over HTTPS (mutual TLS); the sidecar reaches its broker over https/amqps with a client
 * certificate; the target is given by its management TLS listener (https://), so the shovels
 * deliver to its amqps listener, which requires a client certificate: the shovel URI carries
 * cacertfile, certfile, keyfile, verify=verify_peer and server_name_indication. Messages arrive
 * identical (bodies, properties, headers).
 * Refusals before anything is created: a QMIG_SHOVEL_CA_FILE that is not the target's CA, a
 * missing QMIG_SHOVEL_CA_FILE, no shovel client certificate for a target that wants one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { enc } from '../../src/broker/management-client.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { variedMessages } from '../support/integrity.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { brokerTlsEnv, clusterTls, httpsCall, listenerTlsEnv, makePki } from '../support/tls.js';
import { testVhost } from '../support/vhost.js';
import { cleanupTargetVhost, cleanupTransferRecords, fingerprintAt, targetAdmin, targetAmqpUrl, targetCluster } from './transfer-support.js';

const P = '/api/queue-migration';
const clientTls = () => ({ ca: readFileSync(clusterTls.ca), cert: readFileSync(clusterTls.clientCert), key: readFileSync(clusterTls.clientKey) });

function shovelTlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { QMIG_SHOVEL_CA_FILE: clusterTls.ca, QMIG_SHOVEL_CERT_FILE: clusterTls.clientCert, QMIG_SHOVEL_KEY_FILE: clusterTls.clientKey, ...extra };
}

async function tlsSidecar(t: { after(fn: () => unknown): void }, env: Record<string, string>): Promise<TestSidecar> {
  return startTestSidecar(t, { housekeeping: false, env: { ...brokerTlsEnv(0), ...listenerTlsEnv(true), ...env } });
}

test('a transfer over TLS only: sidecar HTTPS, management https, amqps, and shovels over amqps with verified TLS options', async (t) => {
  const vhost = await testVhost(t, { suffix: '/tls&x' });
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const src = admin();
  await src.declareExchange(vhost, 'ex.orders', { type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} });
  await src.declareQueue(vhost, 'orders', { durable: true, arguments: { 'x-max-priority': 5 } });
  await src.declareQueue(vhost, 'events', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await src.bindQueue(vhost, 'ex.orders', 'orders', 'orders.#', {});
  await publish(vhost, { queue: 'orders' }, variedMessages(400, 'orders'));
  await publish(vhost, { queue: 'events' }, variedMessages(1500, 'events'));
  const before = { orders: await fingerprint(vhost, 'orders'), events: await fingerprint(vhost, 'events') };

  const s = await tlsSidecar(t, shovelTlsEnv());
  // The shovel definitions exactly as the sidecar sends them to its broker.
  const destUris: string[] = [];
  s.ctx.mgmt.http.interceptors.request.use((req) => {
    if (req.method?.toUpperCase() === 'PUT' && /\/parameters\/shovel\//.test(String(req.url))) {
      const body = typeof req.data === 'string' ? JSON.parse(req.data) : req.data;
      destUris.push(String(body?.value?.['dest-uri'] ?? ''));
    }
    return req;
  });

  const tls = clientTls();
  const request = {
    target: clusterTls.targetManagementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'TLS drill',
    vhost,
    queue_names: ['orders', 'events'],
  };
  const started = await httpsCall(`${s.url}${P}/xfer`, { method: 'POST', body: request, ...tls });
  assert.equal(started.status, 202, started.text);
  assertSchema('xfer-accepted', started.body);
  const id: string = started.body.transfer_id;

  let record: any = null;
  const deadline = Date.now() + 240_000;
  while (!record || !['completed', 'failed', 'cancelled'].includes(record.status)) {
    assert.ok(Date.now() < deadline, `transfer ${id} did not finish: ${JSON.stringify(record).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 300));
    const r = await httpsCall(`${s.url}${P}/xfer/${encodeURIComponent(id)}`, tls);
    assert.equal(r.status, 200, r.text);
    record = r.body;
  }
  assertSchema('xfer-record', record);
  assert.equal(record.status, 'completed', JSON.stringify(record, null, 1));
  const amqpsPort = new URL(clusterTls.targetAmqpUrl).port;
  assert.equal(record.target_amqp, `amqps://localhost:${amqpsPort}/${enc(vhost)}`, 'the shovels deliver to the amqps listener');

  // Every shovel went over amqps with the TLS options of the configuration.
  assert.equal(destUris.length, 2, JSON.stringify(destUris.map((u) => u.replace(/\/\/[^@]*@/, '//***@'))));
  for (const uri of destUris) {
    const u = new URL(uri);
    assert.equal(u.protocol, 'amqps:');
    assert.equal(`${u.hostname}:${u.port}`, `localhost:${amqpsPort}`);
    assert.equal(u.searchParams.get('cacertfile'), clusterTls.ca);
    assert.equal(u.searchParams.get('certfile'), clusterTls.clientCert);
    assert.equal(u.searchParams.get('keyfile'), clusterTls.clientKey);
    assert.equal(u.searchParams.get('verify'), 'verify_peer');
    assert.equal(u.searchParams.get('server_name_indication'), 'localhost');
  }

  // Content: identical on the target, the source queues empty.
  assert.deepEqual(await fingerprintAt(targetAmqpUrl(vhost), 'orders'), before.orders);
  assert.deepEqual(await fingerprintAt(targetAmqpUrl(vhost), 'events'), before.events);
  assert.equal((await targetAdmin().queue(vhost, 'events'))?.type, 'quorum');
  const bindings = (await targetAdmin().queueBindings(vhost, 'orders')).filter((b) => b.source === 'ex.orders');
  assert.deepEqual(
    bindings.map((b) => b.routing_key),
    ['orders.#'],
  );
  assert.equal((await fingerprint(vhost, 'orders')).length, 0);
});

test('amqps target refused before anything is created: a wrong shovel CA, no shovel CA, no shovel client certificate', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  await admin().declareQueue(vhost, 'q', { durable: true });
  await publish(vhost, { queue: 'q' }, 10);
  const other = await makePki(t, 'not the target CA');
  const tls = clientTls();
  const request = {
    target: clusterTls.targetManagementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'TLS refusal',
    vhost,
    queue_names: ['q'],
  };

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      'a CA that did not sign the target certificate',
      shovelTlsEnv({ QMIG_SHOVEL_CA_FILE: other.ca }),
      /QMIG_SHOVEL_CA_FILE .* failed: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER)/,
    ],
    ['no shovel CA', {}, /QMIG_SHOVEL_CA_FILE is not set/],
    ['no shovel client certificate', { QMIG_SHOVEL_CA_FILE: clusterTls.ca }, /client certificate/],
  ];
  for (const [what, env, reason] of cases) {
    const s = await tlsSidecar(t, env);
    const res = await httpsCall(`${s.url}${P}/xfer`, { method: 'POST', body: request, ...tls });
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    assertSchema('error-response', res.body);
    assert.match(res.body.reason, /the shovels cannot verify the AMQPS listener/, what);
    assert.match(res.body.reason, reason, `${what}: ${res.body.reason}`);
    assert.deepEqual(await admin().ok('GET', `/parameters/shovel/${enc(vhost)}`), [], `${what}: no shovel was created`);
    assert.equal(await targetAdmin().vhost(vhost), null, `${what}: nothing was created on the target`);
    await s.close();
  }
});
