/**
 * TLS to the broker: the sidecar reaches a management listener over https, trusting it through
 * QMIG_CA_FILE — both its own broker calls (node name, auth, healthz) and the streamed proxy.
 * The real node 1 management listener is put behind a TLS terminator (a CA and a server
 * certificate made with openssl for this test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { promisify } from 'node:util';
import { cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';

const run = promisify(execFile);

async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const f = (n: string) => join(dir, n);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=qmig test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  await run('bash', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${f('ext.cnf')}`]);
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('ext.cnf')]);
  return { ca: f('ca.pem'), key: f('server.key'), cert: f('server.pem') };
}

/** https://127.0.0.1:<port> in front of node `i`'s management listener. */
async function tlsFront(t: { after(fn: () => unknown): void }, certs: { key: string; cert: string }, i = 0): Promise<string> {
  const upstream = new URL(cluster.managementUrls[i]);
  const open = new Set<{ destroy(): void }>();
  const server = createServer({ key: readFileSync(certs.key), cert: readFileSync(certs.cert) }, (socket) => {
    const back = connect(Number(upstream.port), upstream.hostname);
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      back.destroy();
    });
    socket.pipe(back).pipe(socket);
    socket.on('error', () => back.destroy());
    back.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const socket of open) socket.destroy(); // kept-alive connections of the sidecars
      }),
  );
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('https management listener trusted through QMIG_CA_FILE: node name, auth, healthz and the proxy work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeCertificates(dir);
  const url = await tlsFront(t, certs, 0);

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
