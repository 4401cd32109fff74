/**
 * Peer discovery through the headless Service (QMIG_PEERS_DNS): a fake resolver for the pure
 * part (own addresses left out, IPv6 bracketed, order stable, failures named), then a real
 * getaddrinfo lookup of `localhost` through the system resolver.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../config/config.js';
import { SnapshotFailedError } from '../errors.js';
import { discoverPeers, peerUrl, systemResolver, type AddressResolver } from './peer-discovery.js';

const fake = (answers: Record<string, string[]>, local: string[]): AddressResolver => ({
  async resolveAll(name) {
    if (!(name in answers)) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return answers[name];
  },
  localAddresses: () => new Set(local),
});

test('the peers are the headless Service addresses other than this pod, on the sidecar port', async () => {
  const config = loadConfig({ QMIG_STATE_SECRET: 's'.repeat(32), QMIG_PEERS_DNS: 'rabbitmq-nodes', QMIG_LISTEN_PORT: '15680' });
  const resolver = fake({ 'rabbitmq-nodes': ['10.0.2.7', '10.0.1.5', '10.0.0.9', '10.0.1.5', 'fd00::3'] }, ['127.0.0.1', '10.0.1.5']);
  assert.deepEqual(await discoverPeers(config, resolver), ['http://10.0.0.9:15680', 'http://10.0.2.7:15680', 'http://[fd00::3]:15680']);
});

test('without QMIG_PEERS_DNS the QMIG_PEERS list is used as is (no lookup)', async () => {
  const config = loadConfig({ QMIG_STATE_SECRET: 's'.repeat(32), QMIG_PEERS: 'http://a:15680/,http://b:15680' });
  const resolver = fake({}, []);
  assert.deepEqual(await discoverPeers(config, resolver), ['http://a:15680', 'http://b:15680']);
});

test('a name that does not resolve fails the snapshot step, naming the variable and the name', async () => {
  const config = loadConfig({ QMIG_STATE_SECRET: 's'.repeat(32), QMIG_PEERS_DNS: 'no-such-service' });
  await assert.rejects(discoverPeers(config, fake({}, [])), (err: unknown) => {
    assert.ok(err instanceof SnapshotFailedError);
    assert.match((err as Error).message, /QMIG_PEERS_DNS "no-such-service": ENOTFOUND/);
    return true;
  });
});

test('real lookup: localhost resolves through getaddrinfo; as this host it is never its own peer', async () => {
  const addresses = await systemResolver.resolveAll('localhost');
  assert.ok(addresses.includes('127.0.0.1') || addresses.includes('::1'), `localhost resolved to ${addresses.join(', ')}`);
  const config = loadConfig({ QMIG_STATE_SECRET: 's'.repeat(32), QMIG_PEERS_DNS: 'localhost', QMIG_LISTEN_PORT: '15999' });
  // The loopback addresses are this host's own: no peer.
  assert.deepEqual(await discoverPeers(config), []);
  // Seen from another pod (none of these addresses local), every address is a peer.
  const fromElsewhere: AddressResolver = { resolveAll: systemResolver.resolveAll, localAddresses: () => new Set() };
  assert.deepEqual(
    await discoverPeers(config, fromElsewhere),
    [...new Set(addresses)].sort().map((a) => peerUrl(a, 15999)),
  );
});
