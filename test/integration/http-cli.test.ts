/**
 * `qmig serve` as operators run it: a child process with environment configuration, refusing a
 * bad variable by name, serving, and stopping gracefully on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, spawnSidecar } from '../support/sidecar.js';

test('an invalid variable stops qmig serve at start with exit 2 and names the variable', async (t) => {
  for (const [name, value] of [
    ['QMIG_LISTEN_PORT', 'abc'],
    ['QMIG_MANAGEMENT_URL', 'ftp://x'],
    ['QMIG_LOG_LEVEL', 'loud'],
  ]) {
    const child = await spawnSidecar(t, { env: { [name]: value }, waitForListening: false });
    const code = await child.exited;
    assert.equal(code, 2, child.output());
    assert.match(child.output(), new RegExp(`qmig: invalid configuration: ${name}: `));
  }
});

test('qmig serve answers, then stops gracefully on SIGTERM (exit 0)', async (t) => {
  const child = await spawnSidecar(t, { node: 1 });
  let res = await fetch(child.url + '/healthz');
  const health = await res.json();
  assertSchema('healthz-response', health);
  assert.deepEqual(health, { status: 'ok', broker: 'reachable', node: cluster.nodeNames[1] });
  res = await fetch(child.url + '/api/queue-migration/status', { headers: { authorization: basicAuth('guest', 'guest'), 'x-request-id': 'cli-test-1' } });
  assert.equal(res.status, 200);
  assertSchema('status-list-response', await res.json());
  assert.equal(await child.kill('SIGTERM'), 0);
  const lines = child
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const access = lines.find((l) => l.message === 'request' && l.request_id === 'cli-test-1');
  assert.ok(access, 'one structured access line per request');
  assert.equal(access.user, 'guest');
  assert.equal(access.status, 200);
  assert.equal(access.path, '/api/queue-migration/status');
  assert.equal(typeof access.duration_ms, 'number');
  assert.ok(!child.output().includes(basicAuth('guest', 'guest').slice(6)), 'credentials never logged');
  assert.ok(lines.some((l) => l.message === 'sidecar stopped'));
});

test('qmig config --markdown prints the variable table; qmig --help lists the commands', async (t) => {
  const md = await spawnSidecar(t, { args: ['config', '--markdown'], waitForListening: false });
  assert.equal(await md.exited, 0);
  assert.match(md.output(), /\| `QMIG_LISTEN_PORT` \| `15680` \|/);
  const help = await spawnSidecar(t, { args: ['--help'], waitForListening: false });
  assert.equal(await help.exited, 0);
  assert.match(help.output(), /serve\s+start the sidecar/);
  const unknown = await spawnSidecar(t, { args: ['frobnicate'], waitForListening: false });
  assert.equal(await unknown.exited, 2);
  assert.match(unknown.output(), /unknown command 'frobnicate'/);
});
