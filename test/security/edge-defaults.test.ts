/**
 * Issue 14 item 6: unsafe defaults and user regexes.
 * - guest/guest with a management (or AMQP) URL that is not loopback: `qmig serve` and
 *   `qmig config --check` refuse to start with a message naming the variables to set;
 * - a transfer `pattern` is run by the sidecar over every queue name: a pattern that backtracks
 *   catastrophically (`^(a+)+$` against a long name of a's) must not stall the sidecar — it is
 *   matched in linear time — and what the linear engine cannot do (backreferences) is a clear 400.
 *   Run against a spawned sidecar on the real cluster, so that a stalled one shows as /healthz
 *   not answering instead of hanging this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cluster } from '../support/cluster.js';
import { basicAuth, spawnSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { targetCluster } from '../integration/transfer-support.js';

for (const [name, value] of [
  ['QMIG_MANAGEMENT_URL', 'http://192.0.2.10:15672'],
  ['QMIG_AMQP_URL', 'amqp://rabbit.example:5672'],
] as const) {
  test(`guest/guest with a non-loopback ${name}: serve and config --check refuse, naming the variables`, async (t) => {
    const env = { [name]: value, QMIG_USER: 'guest', QMIG_PASSWORD: 'guest' };
    for (const args of [['serve'], ['config', '--check']]) {
      const child = await spawnSidecar(t, { env, args, waitForListening: false });
      const code = await Promise.race([child.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 15_000))]);
      assert.equal(code, 2, `qmig ${args.join(' ')} exits 2 at once (got ${code}):\n${child.output()}`);
      for (const v of ['QMIG_USER', 'QMIG_PASSWORD', name]) assert.match(child.output(), new RegExp(v), `names ${v}`);
      assert.match(child.output(), /not loopback/);
    }
  });
}

test('guest/guest on loopback (localhost, 127.x, ::1) still starts', async (t) => {
  const child = await spawnSidecar(t, {
    env: { QMIG_USER: 'guest', QMIG_PASSWORD: 'guest', QMIG_MANAGEMENT_URL: cluster.managementUrls[0].replace('127.0.0.1', 'localhost') },
  });
  const res = await fetch(child.url + '/healthz');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

test('a catastrophically backtracking transfer pattern does not stall the sidecar; backreferences → 400', async (t) => {
  const vhost = await testVhost(t);
  // With a backtracking engine, ^(a+)+$ against 40 a's and a '!' takes 2^40 steps.
  await admin().declareQueue(vhost, `${'a'.repeat(40)}!`, { durable: true });
  await admin().declareQueue(vhost, 'orders', { durable: true });
  const child = await spawnSidecar(t);
  const xfer = (pattern: string) =>
    fetch(`${child.url}/api/queue-migration/xfer`, {
      method: 'POST',
      headers: { authorization: basicAuth(cluster.user, cluster.password), 'content-type': 'application/json' },
      body: JSON.stringify({
        target: targetCluster.managementUrl,
        target_user: targetCluster.user,
        target_password: targetCluster.password,
        reason: 'redos',
        vhost,
        pattern,
      }),
      signal: AbortSignal.timeout(20_000),
    });
  const pending = xfer('^(a+)+$').then(
    async (res) => ({ status: res.status, body: await res.json() }),
    (err: Error) => ({ status: 0, body: { error: err.name } }),
  );
  // The sidecar keeps answering while it evaluates the pattern.
  const health = await fetch(`${child.url}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.status,
    (err: Error) => err.name,
  );
  assert.equal(health, 200, 'the sidecar answers /healthz while matching the pattern');
  const answer = await pending;
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.match(answer.body.reason, /no queue of vhost .* can be transferred with pattern/);

  const backref = await xfer('^(o)\\1');
  const body = await backref.json();
  assert.equal(backref.status, 400);
  assert.equal(body.error, 'bad_request');
  assert.match(body.reason, /pattern is not a valid regular expression for RE2 .*no backreferences/);
});
