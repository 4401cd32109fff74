import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerExchange, BrokerQueue } from '../broker/management-client.js';
import { buildAmqpUri, pickAmqpEndpoint, sameClusterReason } from './target-cluster.js';
import { exchangeDifference, queueDifference, targetQueueDeclaration } from './topology-copy.js';
import { transferShovelName as shovelName } from '../broker/names.js';

describe('buildAmqpUri', () => {
  const endpoint = { protocol: 'amqp' as const, host: '127.0.0.1', port: 6772 };

  it('encodes the vhost as the path, "/" included', () => {
    assert.equal(buildAmqpUri(endpoint, '/'), 'amqp://127.0.0.1:6772/%2F');
    assert.equal(buildAmqpUri(endpoint, '/vh'), 'amqp://127.0.0.1:6772/%2Fvh');
    assert.equal(buildAmqpUri(endpoint, 'test&foo/über'), 'amqp://127.0.0.1:6772/test%26foo%2F%C3%BCber');
  });

  it('carries encoded credentials only when given', () => {
    assert.equal(buildAmqpUri(endpoint, '/vh', { user: 'guest', password: 'guest' }), 'amqp://guest:guest@127.0.0.1:6772/%2Fvh');
    assert.equal(buildAmqpUri(endpoint, 'v', { user: 'a@b', password: 'p:w/d%#' }), 'amqp://a%40b:p%3Aw%2Fd%25%23@127.0.0.1:6772/v');
  });

  it('appends the TLS query of an amqps shovel after the vhost', () => {
    assert.equal(
      buildAmqpUri({ protocol: 'amqps', host: 'b.example', port: 5671 }, '/', { user: 'u', password: 'p' }, '?verify=verify_peer'),
      'amqps://u:p@b.example:5671/%2F?verify=verify_peer',
    );
  });

  it('brackets IPv6 hosts and keeps amqps', () => {
    assert.equal(buildAmqpUri({ protocol: 'amqps', host: 'fd00::1', port: 5671 }, 'v'), 'amqps://[fd00::1]:5671/v');
  });
});

describe('pickAmqpEndpoint', () => {
  it('uses the listener port and replaces wildcard or loopback addresses by the target URL host', () => {
    const listeners = [
      { node: 'r1@a', protocol: 'clustering', ip_address: '::', port: 25672 },
      { node: 'r1@a', protocol: 'amqp', ip_address: '::', port: 5672 },
      { node: 'r1@a', protocol: 'http', ip_address: '::', port: 15672 },
    ];
    assert.deepEqual(pickAmqpEndpoint(listeners, 'http://rabbit-b.example:15672'), { protocol: 'amqp', host: 'rabbit-b.example', port: 5672 });
    assert.deepEqual(pickAmqpEndpoint([{ protocol: 'amqp', ip_address: '127.0.0.1', port: 6772 }], 'http://127.0.0.1:16772'), {
      protocol: 'amqp',
      host: '127.0.0.1',
      port: 6772,
    });
    assert.deepEqual(pickAmqpEndpoint([{ protocol: 'amqp', ip_address: '10.1.2.3', port: 5672 }], 'http://lb.example'), {
      protocol: 'amqp',
      host: '10.1.2.3',
      port: 5672,
    });
  });

  it('prefers plain amqp, falls back to amqp/ssl, prefers the node behind the URL, null without any', () => {
    const both = [
      { node: 'r1@a', protocol: 'amqp/ssl', ip_address: '0.0.0.0', port: 5671 },
      { node: 'r1@a', protocol: 'amqp', ip_address: '10.0.0.1', port: 5672 },
      { node: 'r2@b', protocol: 'amqp', ip_address: '10.0.0.2', port: 5672 },
    ];
    assert.equal(pickAmqpEndpoint(both, 'http://x')!.protocol, 'amqp');
    assert.equal(pickAmqpEndpoint(both, 'http://x', 'r2@b')!.host, '10.0.0.2');
    assert.deepEqual(pickAmqpEndpoint([both[0]], 'https://x.example'), { protocol: 'amqps', host: 'x.example', port: 5671 });
    // A target given as https:// gets its amqps listener (TLS end to end), plain only when it has none.
    assert.deepEqual(pickAmqpEndpoint(both, 'https://x.example'), { protocol: 'amqps', host: 'x.example', port: 5671 });
    assert.equal(pickAmqpEndpoint(both.slice(1), 'https://x.example')!.protocol, 'amqp');
    assert.equal(pickAmqpEndpoint([{ protocol: 'http', ip_address: '::', port: 15672 }], 'http://x'), null);
  });
});

describe('sameClusterReason', () => {
  it('refuses the same cluster_name or the same internal_cluster_id', () => {
    assert.match(sameClusterReason({ clusterName: 'a', clusterId: 'id1' }, { clusterName: 'a', clusterId: 'id2' })!, /cluster_name 'a'/);
    assert.match(sameClusterReason({ clusterName: 'a', clusterId: 'id1' }, { clusterName: 'b', clusterId: 'id1' })!, /internal_cluster_id id1/);
    assert.match(sameClusterReason({ clusterName: 'a', clusterId: null }, { clusterName: 'a', clusterId: null })!, /same cluster/);
    assert.equal(sameClusterReason({ clusterName: 'a', clusterId: 'id1' }, { clusterName: 'b', clusterId: 'id2' }), null);
    assert.equal(sameClusterReason({ clusterName: 'a', clusterId: 'id1' }, { clusterName: 'b', clusterId: null }), null);
  });
});

describe('topology comparison', () => {
  const q = (extra: Partial<BrokerQueue>): BrokerQueue => ({ name: 'q', vhost: 'v', durable: true, auto_delete: false, arguments: {}, ...extra });

  it('declares the target queue with its type explicit', () => {
    assert.deepEqual(targetQueueDeclaration(q({ type: 'quorum', arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 } })), {
      durable: true,
      auto_delete: false,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 },
    });
    assert.deepEqual(targetQueueDeclaration(q({ type: 'classic', arguments: { 'x-max-length': 10 } })).arguments, {
      'x-max-length': 10,
      'x-queue-type': 'classic',
    });
  });

  it('an existing target queue must have the same type, durability and arguments (x-queue-type aside)', () => {
    assert.equal(queueDifference(q({ type: 'classic' }), q({ type: 'classic', arguments: { 'x-queue-type': 'classic' } })), null);
    assert.match(queueDifference(q({ type: 'quorum' }), q({ type: 'classic' }))!, /type classic \(source: quorum\)/);
    assert.match(queueDifference(q({ arguments: { 'x-max-length': 1 } }), q({ arguments: { 'x-max-length': 2 } }))!, /arguments/);
    assert.match(queueDifference(q({ durable: true }), q({ durable: false }))!, /durable false/);
  });

  it('an existing target exchange must be equivalent', () => {
    const x = (extra: Partial<BrokerExchange>): BrokerExchange => ({
      name: 'x',
      vhost: 'v',
      type: 'topic',
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: {},
      ...extra,
    });
    assert.equal(exchangeDifference(x({ arguments: { a: 1, b: 2 } }), x({ arguments: { b: 2, a: 1 } })), null);
    assert.match(exchangeDifference(x({}), x({ type: 'direct' }))!, /type direct \(source: topic\)/);
    assert.match(exchangeDifference(x({}), x({ internal: true }))!, /internal true/);
  });
});

describe('shovelName', () => {
  it('is unique per transfer, queue and round and stays short', () => {
    const id = 'cW1pZ3wxNzAwMDAwMDAwMDAwfHRlc3QxQGxvY2FsaG9zdHwwMTIzNDU2Nzg5YWJjZGVm';
    assert.notEqual(shovelName(id, 0, 0), shovelName(id, 1, 0));
    assert.notEqual(shovelName(id, 0, 0), shovelName(id, 0, 1));
    assert.ok(shovelName(id, 999, 2).length < 64);
  });
});
