import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
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
  ['QMIG_USER', '', /must not be empty/],
  ['QMIG_STATE_SECRET', 'short', /at least 32 characters/],
  ['QMIG_STATE_SECRET_PREVIOUS', 'short', /at least 32 characters/],
  ['QMIG_AUTH_CACHE_SECONDS', '61', /between 0 and 60/],
];

test('QMIG_STATE_SECRET is required', () => {
  assert.throws(() => loadConfig({}), /^ConfigError: QMIG_STATE_SECRET: is required|QMIG_STATE_SECRET: is required/);
});

for (const [name, value, message] of bad) {
  test(`a bad ${name}=${JSON.stringify(value)} fails naming the variable`, () => {
    assert.throws(() => loadConfig({ ...SECRET, [name]: value }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, name);
      assert.match(err.message, new RegExp(`^${name}: `));
      assert.match(err.message, message);
      return true;
    });
  });
}

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
