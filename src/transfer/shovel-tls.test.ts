/**
 * The TLS options of amqps shovel URIs (pure) and the refusals that need no network.
 * The handshake itself is tested against the real target cluster in test/integration/tls-transfer.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shovelTlsProblem, shovelTlsQuery } from './shovel-tls.js';

describe('shovelTlsQuery', () => {
  const endpoint = { protocol: 'amqps' as const, host: 'rabbit-b.example', port: 5671 };

  it('names the CA, the client certificate and key, verify_peer and the SNI of a DNS host', () => {
    const q = new URLSearchParams(
      shovelTlsQuery({ shovelCaFile: '/etc/tls dir/ca&1.pem', shovelCertFile: '/etc/tls/c.pem', shovelKeyFile: '/etc/tls/c.key' }, endpoint).slice(1),
    );
    assert.deepEqual(Object.fromEntries(q), {
      cacertfile: '/etc/tls dir/ca&1.pem',
      certfile: '/etc/tls/c.pem',
      keyfile: '/etc/tls/c.key',
      verify: 'verify_peer',
      server_name_indication: 'rabbit-b.example',
    });
  });

  it('has no SNI for an IP address (Erlang refuses one) and no client certificate when none is configured', () => {
    const q = new URLSearchParams(
      shovelTlsQuery({ shovelCaFile: '/ca.pem', shovelCertFile: undefined, shovelKeyFile: undefined }, { ...endpoint, host: '10.0.0.5' }).slice(1),
    );
    assert.deepEqual(Object.fromEntries(q), { cacertfile: '/ca.pem', verify: 'verify_peer' });
  });

  it('never builds an unverified amqps URI', async () => {
    assert.throws(() => shovelTlsQuery({ shovelCaFile: undefined, shovelCertFile: undefined, shovelKeyFile: undefined }, endpoint), /QMIG_SHOVEL_CA_FILE/);
    assert.match(
      (await shovelTlsProblem({ shovelCaFile: undefined, shovelCertFile: undefined, shovelKeyFile: undefined }, endpoint))!,
      /QMIG_SHOVEL_CA_FILE is not set/,
    );
    assert.match(
      (await shovelTlsProblem({ shovelCaFile: '/nonexistent/ca.pem', shovelCertFile: undefined, shovelKeyFile: undefined }, endpoint))!,
      /cannot be read by the sidecar/,
    );
  });
});
