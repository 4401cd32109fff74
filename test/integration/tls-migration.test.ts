/**
 * A migration entirely over TLS on the real test cluster: the caller reaches the sidecar over
 * HTTPS with a client certificate (mutual TLS), the sidecar reaches the broker only through the
 * broker's own TLS listeners — management over https and AMQP over amqps, both of which require a
 * client certificate (scripts/cluster.sh) — and the integrity check holds: every message
 * identical to before, no shovel left, permissions and limits restored. The broker's view of the
 * sidecar's AMQP connections proves they are TLS with the configured client certificate.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster } from '../support/cluster.js';
import { assertIntegrity } from '../support/integrity.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { brokerTlsEnv, clusterTls, httpsCall, listenerTlsEnv } from '../support/tls.js';
import { prepareVhost, reliabilityEnv, sleep, TERMINAL } from '../reliability/reliability-support.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { testSeal } from '../support/state-secret.js';

interface BrokerConnection {
  name: string;
  vhost: string;
  ssl?: boolean;
  peer_cert_subject?: string;
  client_properties?: { connection_name?: string };
}

test('a migration over TLS only: HTTPS with mutual TLS to the sidecar, https and amqps with a client certificate to the broker', async (t) => {
  // One queue big enough for a shovel (QMIG_SHOVEL_MIN_MESSAGES 1000), two moved by the sidecar over amqps.
  const p = await prepareVhost(t, [
    { name: 'tls-big', messages: 1500, node: 0 },
    { name: 'tls-small', messages: 120, node: 1 },
    { name: 'tls-empty', messages: 0, node: 2 },
  ]);
  const store = new MigrationStore(admin(), testSeal());
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) if (r.vhost === p.vhost) await store.delete(r).catch(() => undefined);
  });

  const s = await startTestSidecar(t, { env: { ...reliabilityEnv(p.vhost), ...brokerTlsEnv(0), ...listenerTlsEnv(true) } });
  assert.match(String(s.ctx.config.managementUrl), /^https:/);
  assert.equal(s.ctx.config.amqpUrl.protocol, 'amqps:');
  // The node name came over the management TLS listener, which accepts only client certificates from the CA.
  assert.equal(s.ctx.nodeName, cluster.nodeNames[0]);

  const tls = { ca: readFileSync(clusterTls.ca), cert: readFileSync(clusterTls.clientCert), key: readFileSync(clusterTls.clientKey) };
  const started = await httpsCall(`${s.url}/api/queue-migration/start/${enc(p.vhost)}`, { method: 'POST', body: {}, ...tls });
  assert.equal(started.status, 200, started.text);
  assertSchema('start-response', started.body);
  const id: string = started.body.migration_id;

  let detail: any = null;
  const deadline = Date.now() + 240_000;
  while (!detail || !TERMINAL.includes(detail.migration.status)) {
    assert.ok(Date.now() < deadline, `migration ${id} did not finish over TLS: ${JSON.stringify(detail).slice(0, 1500)}`);
    await sleep(300);
    const r = await httpsCall(`${s.url}/api/queue-migration/status/${encodeURIComponent(id)}`, tls);
    assert.equal(r.status, 200, r.text);
    detail = r.body;
  }
  assertSchema('status-detail-response', detail);
  assert.equal(detail.migration.status, 'completed', JSON.stringify(detail).slice(0, 2000));
  await assertIntegrity(p.baseline, id);
  for (const q of ['tls-big', 'tls-small', 'tls-empty']) assert.equal((await admin().queue(p.vhost, q))?.type, 'quorum', q);

  // Every AMQP connection the sidecar holds in the vhost (locks, counts, its own moves) is TLS,
  // authenticated by the client certificate it was given.
  const subject = new X509Certificate(readFileSync(clusterTls.clientCert)).subject.replace(/\n/g, ',');
  const connections = (await admin().ok<BrokerConnection[]>('GET', `/vhosts/${enc(p.vhost)}/connections`)).filter((c) =>
    c.client_properties?.connection_name?.startsWith('qmig'),
  );
  assert.ok(connections.length > 0, 'the sidecar holds AMQP connections in the vhost');
  for (const c of connections) {
    assert.equal(c.ssl, true, `${c.client_properties?.connection_name} is not TLS`);
    assert.match(
      String(c.peer_cert_subject),
      new RegExp(subject.replace(/[=]/g, '.')),
      `${c.client_properties?.connection_name} presented ${c.peer_cert_subject}`,
    );
  }
});
