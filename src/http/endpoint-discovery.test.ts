import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advertiseListeners, advertisedAddress } from './endpoint-discovery.js';

const overview = {
  cluster_name: 'c',
  listeners: [
    { node: 'r1@a', protocol: 'amqp', ip_address: '127.0.0.1', port: 5672 },
    { node: 'r1@a', protocol: 'http', ip_address: '127.0.0.1', port: 15672, socket_opts: {} },
    { node: 'r1@a', protocol: 'https', ip_address: '127.0.0.1', port: 15671 },
    { node: 'r2@b', protocol: 'http', ip_address: '127.0.0.1', port: 15673 },
    { node: 'r2@b', protocol: 'http/prometheus', ip_address: '127.0.0.1', port: 15692 },
  ],
};

test("every node's management listeners become one entry for the sidecar; other listeners stay", () => {
  const out = advertiseListeners(overview, { protocol: 'http', host: 'qmig.svc', port: 15680 }) as typeof overview;
  assert.equal(out.cluster_name, 'c');
  assert.deepEqual(
    out.listeners.map((l) => [l.node, l.protocol, l.ip_address, l.port]),
    [
      ['r1@a', 'amqp', '127.0.0.1', 5672],
      ['r1@a', 'http', 'qmig.svc', 15680],
      ['r2@b', 'http', 'qmig.svc', 15680],
      ['r2@b', 'http/prometheus', '127.0.0.1', 15692],
    ],
  );
  assert.ok(!('socket_opts' in out.listeners[1]), "the broker's socket options are not the sidecar's");
  assert.deepEqual(advertiseListeners({ no: 'listeners' }, { protocol: 'http', host: 'h', port: 1 }), { no: 'listeners' });
});

test('the advertised address: QMIG_ADVERTISED_URL, else where the request came in', () => {
  const req = { protocol: 'http', headers: { host: '127.0.0.1:15680' } };
  assert.deepEqual(advertisedAddress({ advertisedUrl: undefined }, req), { protocol: 'http', host: '127.0.0.1', port: 15680 });
  assert.deepEqual(advertisedAddress({ advertisedUrl: new URL('https://qmig.example') }, req), { protocol: 'https', host: 'qmig.example', port: 443 });
  assert.deepEqual(advertisedAddress({ advertisedUrl: undefined }, { protocol: 'https', headers: { host: '[::1]' } }), {
    protocol: 'https',
    host: '::1',
    port: 443,
  });
  assert.equal(advertisedAddress({ advertisedUrl: undefined }, { protocol: 'http', headers: {} }), null);
});
