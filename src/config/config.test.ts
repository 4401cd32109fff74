import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, configMarkdown, loadConfig, VARIABLES } from './config.js';

/** The one variable without a default. */
const SECRET = { QMIG_STATE_SECRET: 'k'.repeat(32) };

test('defaults load and are typed', () => {
  const c = loadConfig(SECRET);
  assert.equal(c.listenPort, 15680);
  assert.equal(c.managementUrl.toString(), 'http://127.0.0.1:15672/');
  assert.equal(c.amqpUrl.protocol, 'amqp:');
  assert.equal(c.fenceClients, true);
  assert.deepEqual(c.peers, []);
  assert.equal(c.snapshotMode, 'none');
});

const bad: Array<[string, string, RegExp]> = [
  ['QMIG_LISTEN_PORT', 'abc', /integer/],
  ['QMIG_LISTEN_PORT', '70000', /TCP port/],
  ['QMIG_MANAGEMENT_URL', 'not a url', /must be a URL/],
  ['QMIG_MANAGEMENT_URL', 'ftp://x', /http or https/],
  ['QMIG_AMQP_URL', 'http://127.0.0.1:5672', /amqp or amqps/],
  ['QMIG_LOG_LEVEL', 'loud', /one of error, warn, info, debug/],
  ['QMIG_FENCE_CLIENTS', 'maybe', /true or false/],
  ['QMIG_CA_FILE', '/nonexistent/ca.pem', /cannot read file/],
  ['QMIG_PEERS', 'http://ok:1,nope', /must be a URL/],
  ['QMIG_MIGRATION_CONCURRENCY', '0', /between 1 and 64/],
  ['QMIG_HOUSEKEEPING_CRON', 'every minute', /cron expression/],
  // Five or six fields, but out of range: node-cron would refuse them when `serve` schedules.
  ['QMIG_HOUSEKEEPING_CRON', '99 99 * * * *', /not a valid cron expression/],
  ['QMIG_HOUSEKEEPING_CRON', '0 0 32 * *', /not a valid cron expression/],
  ['QMIG_USER', '', /must not be empty/],
  ['QMIG_STATE_SECRET', 'short', /at least 32 characters/],
  ['QMIG_STATE_SECRET_PREVIOUS', 'short', /at least 32 characters/],
  ['QMIG_AUTH_CACHE_SECONDS', '61', /between 0 and 60/],
  ['QMIG_PEERS_DNS', 'http://rabbitmq-nodes', /must be a DNS name/],
];

test('QMIG_STATE_SECRET is required', () => {
  assert.throws(() => loadConfig({}), /^ConfigError: QMIG_STATE_SECRET: is required|QMIG_STATE_SECRET: is required/);
});

for (const [name, value, message] of bad) {
  test(`a bad ${name}=${JSON.stringify(value)} fails naming the variable`, () => {
    assert.throws(
      () => loadConfig({ ...SECRET, [name]: value }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.variable, name);
        assert.match(err.message, new RegExp(`^${name}: `));
        assert.match(err.message, message);
        return true;
      },
    );
  });
}

// TLS files: two real certificate/key pairs made with openssl, and files that are not what they claim.
const dir = mkdtempSync(join(tmpdir(), 'qmig-config-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);
for (const name of ['a', 'b']) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.pem`),
    ],
    { stdio: 'ignore' },
  );
}
writeFileSync(f('garbage.pem'), 'not a certificate\n');
writeFileSync(f('broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');

test('TLS files load: listener pair with client CA, client pair, peer and shovel CAs', () => {
  const c = loadConfig({
    ...SECRET,
    QMIG_TLS_CERT_FILE: f('a.pem'),
    QMIG_TLS_KEY_FILE: f('a.key'),
    QMIG_TLS_CLIENT_CA_FILE: f('b.pem'),
    QMIG_CLIENT_CERT_FILE: f('b.pem'),
    QMIG_CLIENT_KEY_FILE: f('b.key'),
    QMIG_PEER_CA_FILE: f('a.pem'),
    QMIG_SHOVEL_CA_FILE: f('a.pem'),
  });
  assert.equal(c.tlsCertFile, f('a.pem'));
  assert.equal(c.tlsClientCaFile, f('b.pem'));
  assert.equal(c.clientKeyFile, f('b.key'));
  const plain = loadConfig(SECRET);
  assert.equal(plain.tlsCertFile, undefined, 'plain HTTP by default');
  assert.equal(plain.shovelCaFile, undefined);
});

const badTls: Array<[string, Record<string, string>, string, RegExp]> = [
  ['a certificate without its key', { QMIG_TLS_CERT_FILE: f('a.pem') }, 'QMIG_TLS_KEY_FILE', /required when QMIG_TLS_CERT_FILE is set/],
  ['a key without its certificate', { QMIG_CLIENT_KEY_FILE: f('a.key') }, 'QMIG_CLIENT_CERT_FILE', /required when QMIG_CLIENT_KEY_FILE is set/],
  ['a shovel certificate without its key', { QMIG_SHOVEL_CERT_FILE: f('a.pem') }, 'QMIG_SHOVEL_KEY_FILE', /required/],
  [
    'a certificate with the key of another',
    { QMIG_TLS_CERT_FILE: f('a.pem'), QMIG_TLS_KEY_FILE: f('b.key') },
    'QMIG_TLS_CERT_FILE',
    /not a usable PEM certificate and key/,
  ],
  ['a client CA without a listener certificate', { QMIG_TLS_CLIENT_CA_FILE: f('a.pem') }, 'QMIG_TLS_CLIENT_CA_FILE', /needs QMIG_TLS_CERT_FILE/],
  ['a CA file without a certificate', { QMIG_SHOVEL_CA_FILE: f('garbage.pem') }, 'QMIG_SHOVEL_CA_FILE', /holds no PEM certificate/],
  ['a CA file whose certificate does not parse', { QMIG_PEER_CA_FILE: f('broken.pem') }, 'QMIG_PEER_CA_FILE', /does not parse/],
  ['a missing certificate file', { QMIG_TLS_CERT_FILE: f('none.pem'), QMIG_TLS_KEY_FILE: f('a.key') }, 'QMIG_TLS_CERT_FILE', /cannot read file/],
];

for (const [what, env, variable, message] of badTls) {
  test(`TLS: ${what} fails naming ${variable}`, () => {
    assert.throws(
      () => loadConfig({ ...SECRET, ...env }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.variable, variable);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('PRIVATE KEY'), 'no key material in the message');
        return true;
      },
    );
  });
}

test('QMIG_PEERS and QMIG_PEERS_DNS exclude each other', () => {
  assert.throws(() => loadConfig({ ...SECRET, QMIG_PEERS: 'http://a:15680', QMIG_PEERS_DNS: 'rabbitmq-nodes' }), /QMIG_PEERS_DNS: set either/);
  assert.equal(loadConfig({ ...SECRET, QMIG_PEERS_DNS: 'rabbitmq-nodes.rabbitmq.svc.cluster.local' }).peersDns, 'rabbitmq-nodes.rabbitmq.svc.cluster.local');
  assert.throws(
    () => loadConfig({ ...SECRET, QMIG_PEERS_DNS: 'rabbitmq-nodes', QMIG_TLS_CERT_FILE: f('a.pem'), QMIG_TLS_KEY_FILE: f('a.key') }),
    /QMIG_PEERS_DNS: cannot be used with QMIG_TLS_CERT_FILE/,
  );
});

test('tar snapshots need a data directory', () => {
  assert.throws(() => loadConfig({ ...SECRET, QMIG_SNAPSHOT_MODE: 'tar' }), /QMIG_SNAPSHOT_DATA_DIR: is required/);
});

test('the markdown table lists every variable with its default', () => {
  const md = configMarkdown();
  for (const v of Object.values(VARIABLES)) assert.ok(md.includes(`\`${v.name}\``), v.name);
  assert.ok(md.includes('| `QMIG_LISTEN_PORT` | `15680` |'));
});

test("the README's configuration table is this one (documented defaults never drift)", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configMarkdown().trim()), 'README.md: regenerate the table with `qmig config --markdown` output');
});
