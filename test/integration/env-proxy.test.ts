/**
 * An HTTP_PROXY / HTTPS_PROXY in the sidecar's environment (common on corporate hosts and in
 * pods with a cluster-wide proxy) must never carry the calls to the broker or to the peer
 * sidecars: the proxy would see the service account's credentials, and a dead proxy would cut
 * the sidecar off its own node. The proxy used here is a port nobody listens on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, freePort, spawnSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { PeerSidecars } from '../../src/snapshots/peer-snapshots.js';
import { loadConfig } from '../../src/config/config.js';
import { TEST_STATE_SECRET } from '../support/state-secret.js';

async function deadProxyEnv(): Promise<Record<string, string>> {
  const proxy = `http://127.0.0.1:${await freePort()}`;
  return { HTTP_PROXY: proxy, http_proxy: proxy, HTTPS_PROXY: proxy, https_proxy: proxy, NO_PROXY: '', no_proxy: '' };
}

/** Sets the variables in this process for the duration of `fn` (axios reads them per request). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('with HTTP_PROXY set to a dead proxy, qmig serve still reaches its broker (healthz, check)', async (t) => {
  const vhost = await testVhost(t);
  const child = await spawnSidecar(t, { env: await deadProxyEnv() });
  const health = await (await fetch(child.url + '/healthz')).json();
  assert.deepEqual(health, { status: 'ok', broker: 'reachable', node: cluster.nodeNames[0] });
  const res = await fetch(`${child.url}/api/queue-migration/check/${encodeURIComponent(vhost)}`, {
    method: 'POST',
    headers: { authorization: basicAuth(cluster.user, cluster.password), 'content-type': 'application/json' },
    body: '{}',
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('check-response', body);
  assert.equal(body.vhost, vhost);
});

test('peer sidecars are called directly, not through HTTP_PROXY (and the dead proxy would have failed them)', async (t) => {
  const peer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ node: 'rabbit@peer', in_progress: [], path: req.url }));
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => peer.close(() => r())));
  const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  const config = loadConfig({ QMIG_PEERS: peerUrl, QMIG_STATE_SECRET: TEST_STATE_SECRET });
  const env = await deadProxyEnv();

  const activity = await withEnv(env, () => new PeerSidecars(config).activity(peerUrl));
  assert.equal(activity.node, 'rabbit@peer');

  // The control: an axios client with default settings does go to the (dead) proxy here.
  await withEnv(env, async () => {
    await assert.rejects(axios.get(`${peerUrl}/x`, { timeout: 5000 }), (err: { code?: string }) => err.code === 'ECONNREFUSED');
  });
});
