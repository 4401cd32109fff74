/**
 * The sidecar's own HTTPS listener, against the real test cluster:
 * - plain HTTP stays the default on loopback;
 * - HTTPS with a certificate, and mutual TLS with QMIG_TLS_CLIENT_CA_FILE: a client without a
 *   certificate from that CA is refused in the handshake, Basic Auth is still required;
 * - the certificate is reloaded without a restart when its files change (a Secret update swaps
 *   them), and a half-rotated pair keeps the current certificate in use;
 * - https:// peers (QMIG_PEERS) are verified against QMIG_PEER_CA_FILE and get the client
 *   certificate: another CA is refused naming the peer;
 * - the qmig CLI reaches an HTTPS sidecar with QMIG_CLI_CA_FILE and QMIG_CLI_CERT_FILE/KEY_FILE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { SnapshotFailedError } from '../../src/errors.js';
import { PeerSidecars } from '../../src/snapshots/peer-snapshots.js';
import { cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { sidecarEnv, startTestSidecar } from '../support/sidecar.js';
import { clusterTls, httpsCall, listenerTlsEnv, makePki } from '../support/tls.js';
import { eventually } from '../integration/transfer-support.js';
import { assertExit, runCli } from '../integration/cli-support.js';

const clientCert = () => ({ ca: readFileSync(clusterTls.ca), cert: readFileSync(clusterTls.clientCert), key: readFileSync(clusterTls.clientKey) });

test('plain HTTP stays the default on loopback', async (t) => {
  const s = await startTestSidecar(t);
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const res = await fetch(s.url + '/healthz');
  assert.equal(res.status, 200);
});

test('HTTPS with mutual TLS: no client certificate, no connection; with one, Basic Auth still decides', async (t) => {
  const s = await startTestSidecar(t, { env: listenerTlsEnv(true) });
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { ca, cert, key } = clientCert();

  // Plain HTTP on the HTTPS port gets no API.
  await assert.rejects(fetch(s.url.replace('https:', 'http:') + '/healthz'));
  // No client certificate: refused in the TLS handshake, before any credentials are read.
  await assert.rejects(httpsCall(s.url + '/api/queue-migration/status', { ca }), /certificate|alert|socket hang up|ECONNRESET/i);
  // A client certificate from another CA: refused too.
  const other = await makePki(t, 'another CA');
  const stranger = await other.issue('stranger', 'stranger');
  await assert.rejects(
    httpsCall(s.url + '/api/queue-migration/status', { ca, cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) }),
    /certificate|alert|socket hang up|ECONNRESET/i,
  );

  const health = await httpsCall(s.url + '/healthz', { ca, cert, key, auth: null });
  assert.equal(health.status, 200, health.text);
  assertSchema('healthz-response', health.body);
  const noAuth = await httpsCall(s.url + '/api/queue-migration/status', { ca, cert, key, auth: null });
  assert.equal(noAuth.status, 401);
  assertSchema('error-response', noAuth.body);
  const ok = await httpsCall(s.url + '/api/queue-migration/status', { ca, cert, key });
  assert.equal(ok.status, 200, ok.text);
  assertSchema('status-list-response', ok.body);
  // The proxied management API answers over the sidecar's HTTPS too.
  const overview = await httpsCall(s.url + '/api/overview', { ca, cert, key });
  assert.equal(overview.status, 200);
  assert.equal(overview.body.node, cluster.nodeNames[0]);
});

test('the certificate and key are reloaded without a restart; a half-rotated pair keeps the current one', async (t) => {
  const pki = await makePki(t);
  const first = await pki.issue('first', 'qmig-first');
  const second = await pki.issue('second', 'qmig-second');
  // The files the sidecar reads, in a directory of their own (as a mounted Secret).
  const cert = join(pki.dir, 'tls.crt');
  const key = join(pki.dir, 'tls.key');
  copyFileSync(first.cert, cert);
  copyFileSync(first.key, key);
  const s = await startTestSidecar(t, { env: { QMIG_TLS_CERT_FILE: cert, QMIG_TLS_KEY_FILE: key } });
  const ca = readFileSync(pki.ca);
  assert.equal((await httpsCall(s.url + '/healthz', { ca, auth: null })).peer.subject.CN, 'qmig-first');

  // Only the certificate rotated (its key not yet): the pair does not match, the old one stays.
  writeFileSync(cert + '.new', readFileSync(second.cert));
  renameSync(cert + '.new', cert);
  await new Promise((r) => setTimeout(r, 1500));
  const during = await httpsCall(s.url + '/healthz', { ca, auth: null });
  assert.equal(during.status, 200);
  assert.equal(during.peer.subject.CN, 'qmig-first', 'a certificate without its key is not installed');

  // The key follows: the new certificate is served on new connections, no restart.
  writeFileSync(key + '.new', readFileSync(second.key));
  renameSync(key + '.new', key);
  await eventually(
    async () => (await httpsCall(s.url + '/healthz', { ca, auth: null })).peer.subject.CN === 'qmig-second',
    15_000,
    'the renewed certificate to be served',
  );
  const after = await httpsCall(s.url + '/api/queue-migration/status', { ca });
  assert.equal(after.status, 200);
});

test('https peers are verified against QMIG_PEER_CA_FILE and get the client certificate', async (t) => {
  const peer = await startTestSidecar(t, { node: 1, env: listenerTlsEnv(true) });
  const other = await makePki(t, 'not the peers CA');
  const peersConfig = (env: Record<string, string>) => loadConfig({ ...sidecarEnv(0, { QMIG_LISTEN_PORT: '1', QMIG_PEERS: peer.url, ...env }) });

  const trusted = new PeerSidecars(
    peersConfig({ QMIG_PEER_CA_FILE: clusterTls.ca, QMIG_CLIENT_CERT_FILE: clusterTls.clientCert, QMIG_CLIENT_KEY_FILE: clusterTls.clientKey }),
  );
  const activity = await trusted.activity(trusted.urls[0]);
  assert.equal(activity.node, cluster.nodeNames[1]);
  assert.deepEqual(activity.in_progress, []);

  // Another CA: the peer's certificate is not trusted (never a silent fallback to no verification).
  const wrongCa = new PeerSidecars(
    peersConfig({ QMIG_PEER_CA_FILE: other.ca, QMIG_CLIENT_CERT_FILE: clusterTls.clientCert, QMIG_CLIENT_KEY_FILE: clusterTls.clientKey }),
  );
  await assert.rejects(wrongCa.activity(wrongCa.urls[0]), (err: unknown) => {
    assert.ok(err instanceof SnapshotFailedError);
    assert.match(
      err.message,
      new RegExp(
        `peer sidecar ${peer.url.replace(/[.]/g, '\\.')} unreachable: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)`,
      ),
    );
    return true;
  });
  // Trusted, but without the client certificate the peer's mutual TLS refuses the connection.
  const noClientCert = new PeerSidecars(peersConfig({ QMIG_PEER_CA_FILE: clusterTls.ca }));
  await assert.rejects(noClientCert.activity(noClientCert.urls[0]), SnapshotFailedError);
});

test('the qmig CLI reaches a mutual-TLS sidecar with QMIG_CLI_CA_FILE and its client certificate, never unverified', async (t) => {
  const s = await startTestSidecar(t, { env: listenerTlsEnv(true) });
  const base = { QMIG_URL: s.url, QMIG_CLI_USER: cluster.user, QMIG_CLI_PASSWORD: cluster.password };
  const ok = await runCli(['status', '--json'], {
    ...base,
    QMIG_CLI_CA_FILE: clusterTls.ca,
    QMIG_CLI_CERT_FILE: clusterTls.clientCert,
    QMIG_CLI_KEY_FILE: clusterTls.clientKey,
  });
  assertExit(ok, 0, 'status over mutual TLS');
  assert.ok(Array.isArray(JSON.parse(ok.stdout).migrations), ok.stdout);

  const noCert = await runCli(['status'], { ...base, QMIG_CLI_CA_FILE: clusterTls.ca });
  assertExit(noCert, 3, 'without a client certificate the sidecar refuses the connection');
  const untrusted = await runCli(['status'], { ...base, QMIG_CLI_CERT_FILE: clusterTls.clientCert, QMIG_CLI_KEY_FILE: clusterTls.clientKey });
  assertExit(untrusted, 3, 'without the CA the sidecar certificate is not trusted');
  assert.match(untrusted.stderr, /TLS error/);
  const halfPair = await runCli(['status'], { ...base, QMIG_CLI_CERT_FILE: clusterTls.clientCert });
  assertExit(halfPair, 2, 'a certificate without its key is a usage error');
  assert.match(halfPair.stderr, /QMIG_CLI_CERT_FILE and QMIG_CLI_KEY_FILE go together/);
});
