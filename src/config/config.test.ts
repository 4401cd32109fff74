import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ConfigError, configMarkdown, loadConfig, VARIABLES } from './config.js';

test('defaults load and are typed', () => {
  const c = loadConfig({});
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
  ['QMIG_PEERS_DNS', 'http://rabbitmq-nodes', /must be a DNS name/],
];

for (const [name, value, message] of bad) {
  test(`a bad ${name}=${JSON.stringify(value)} fails naming the variable`, () => {
    assert.throws(() => loadConfig({ [name]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, name);
      assert.match(err.message, new RegExp(`^${name}: `));
      assert.match(err.message, message);
      return true;
    });
  });
}

test('QMIG_PEERS and QMIG_PEERS_DNS exclude each other', () => {
  assert.throws(() => loadConfig({ QMIG_PEERS: 'http://a:15680', QMIG_PEERS_DNS: 'rabbitmq-nodes' }), /QMIG_PEERS_DNS: set either/);
  assert.equal(loadConfig({ QMIG_PEERS_DNS: 'rabbitmq-nodes.rabbitmq.svc.cluster.local' }).peersDns, 'rabbitmq-nodes.rabbitmq.svc.cluster.local');
});

test('tar snapshots need a data directory', () => {
  assert.throws(() => loadConfig({ QMIG_SNAPSHOT_MODE: 'tar' }), /QMIG_SNAPSHOT_DATA_DIR: is required/);
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
