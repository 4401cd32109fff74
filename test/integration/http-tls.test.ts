/**
 * TLS to the broker: the sidecar reaches a management listener over https, trusting it through
 * QMIG_CA_FILE — both its own broker calls (node name, auth, healthz) and the streamed proxy.
 * The real node 1 management listener is put behind a TLS terminator (a CA and a server
 * certificate made with openssl for this test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { makeCertificates, tlsFront } from '../support/tls.js';

test('https management listener trusted through QMIG_CA_FILE: node name, auth, healthz and the proxy work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCertificates(dir);
  const url = await tlsFront(t, certs, cluster.managementUrls[0]);

  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: url, QMIG_CA_FILE: certs.ca } });
  assert.equal(s.ctx.nodeName, cluster.nodeNames[0]);
  let res = await fetch(s.url + '/healthz');
  const health = await res.json();
  assertSchema('healthz-response', health);
  assert.equal(res.status, 200, JSON.stringify(health));
  res = await s.api('/api/queue-migration/status');
  assert.equal(res.status, 200);
  assertSchema('status-list-response', await res.json());
  res = await s.api('/api/overview');
  assert.equal(res.status, 200);
  assert.equal((await res.json()).node, cluster.nodeNames[0]);
  res = await s.api('/', { auth: null });
  assert.match(await res.text(), /RabbitMQ Management/);

  // without the CA the certificate is refused: the broker counts as unreachable, never trusted
  const untrusted = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: url }, brokerWaitMs: 0 });
  res = await fetch(untrusted.url + '/healthz');
  const refused = await res.json();
  assert.equal(res.status, 503);
  assertSchema('healthz-response', refused);
  res = await untrusted.api('/api/overview');
  assert.equal(res.status, 502);
  assertSchema('error-response', await res.json());
});
