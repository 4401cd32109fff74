/**
 * The RabbitMQ Queue Migration plugin's own integration scenarios (its repository's
 * test/integration: empty queue, already-quorum, batch, skip-unsuitable, allow-message-ttl,
 * interrupt, end-to-end), written again as qmig tests against the real cluster and driven through
 * a sidecar's HTTP API as the plugin's clients drive it — smaller, so CI keeps them. Also what those
 * clients rely on besides the API: the scenarios' ordinary mirroring policy (with queue-version)
 * must not block a start, a busy quorum leader must not make a count read 0 (the already-quorum
 * failure), `GET /api/overview` must name the sidecars' own management listeners (endpoint
 * discovery), and qmig must reconnect after a client closed every connection.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { confirmedCount } from '../../src/broker/confirmed-count.js';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster } from '../support/cluster.js';
import { makeLeadersBusy } from '../support/busy-leaders.js';
import { takeBaseline, assertIntegrity, variedMessages } from '../support/integrity.js';
import { messageCount, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { engineContext, sleep, waitSynchronised } from './migration-support.js';

/** The scenarios' mirroring policy: ha-all with queue-version, a classic-queue-only setting. */
const SCENARIO_POLICY = { 'ha-mode': 'all', 'ha-sync-mode': 'automatic', 'queue-version': 2 };
const SIDECAR_ENV = { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', QMIG_SHOVEL_START_TIMEOUT_SECONDS: '20' };

async function scenarioVhost(t: TestContext): Promise<string> {
  const vhost = await testVhost(t);
  await admin().ok('PUT', `/policies/${enc(vhost)}/ha-all`, { pattern: '^test\\.', definition: SCENARIO_POLICY, 'apply-to': 'queues', priority: 0 });
  return vhost;
}

/** Mirrored classic queues with their masters spread over the nodes (as the scenarios' publishers do). */
async function mirrored(vhost: string, names: string[], args: Record<string, unknown> = {}): Promise<void> {
  const nodes = cluster.nodeNames;
  for (const [i, name] of names.entries()) await admin().declareQueue(vhost, name, { durable: true, arguments: args, node: nodes[i % nodes.length] });
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** A quorum queue's exact count (a busy leader's 0 is not taken for an answer). */
const exactCount = async (vhost: string, queue: string) => (await confirmedCount(() => messageCount(vhost, queue))) ?? -1;

async function call(s: TestSidecar, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await s.api(path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

async function start(s: TestSidecar, vhost: string, body: unknown = {}): Promise<string> {
  const r = await call(s, 'POST', `/api/queue-migration/start/${enc(vhost)}`, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertSchema('start-response', r.body);
  return r.body.migration_id;
}

/** Polls GET status/:id (as the scenarios do) until the migration has finished. */
async function finished(s: TestSidecar, id: string, timeoutMs = 180_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(s, 'GET', `/api/queue-migration/status/${enc(id)}`);
    if (r.status === 200 && !['pending', 'in_progress'].includes(r.body.migration.status)) {
      assertSchema('status-detail-response', r.body);
      return r.body;
    }
    if (Date.now() > deadline) throw new Error(`migration ${id} still ${r.body?.migration?.status}`);
    await sleep(500);
  }
}

/** Waits until the management API reports every queue's size (batch_order reads them). */
/**
 * Waits until the management API reports every queue with exactly its expected message count (a
 * count sampled while the queue was still being filled stays until the next statistics emission,
 * and batch order is by the reported message bytes).
 */
async function waitForSizes(vhost: string, expected: Record<string, number>): Promise<void> {
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(250)) {
    const rows = (await admin().queues(vhost)).filter((q) => q.name in expected);
    if (rows.length === Object.keys(expected).length && rows.every((q) => q.messages === expected[q.name] && (q.message_bytes ?? 0) > 0)) return;
  }
  throw new Error(`queue sizes not reported as ${JSON.stringify(expected)}`);
}

async function queueTypes(vhost: string): Promise<Record<string, string>> {
  return Object.fromEntries((await admin().queues(vhost)).filter((q) => q.name.startsWith('test.')).map((q) => [q.name, q.type ?? 'classic']));
}

test('count bug: a quorum queue whose leader is busy is not counted as empty', async (t) => {
  const vhost = await testVhost(t);
  const ctx = engineContext(t, vhost);
  await admin().declareQueue(vhost, 'test.qq', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(vhost, { queue: 'test.qq' }, 200);
  assert.equal(await ctx.amqp.messageCount(vhost, 'test.qq'), 200);
  await makeLeadersBusy({ vhost, prefixes: ['test.qq'], busyMs: 1500, idleMs: 100, forMs: 3000 });
  // The broker's own answer while the leader is busy: 0 of 200 after its 250 ms timeout.
  const raw = await messageCount(vhost, 'test.qq');
  assert.equal(await ctx.amqp.messageCount(vhost, 'test.qq'), 200, `the sidecar's count (the broker answered ${raw} meanwhile)`);
});

test('already-quorum: 15 mirrored queues × 200 messages beside 10 quorum queues, with busy quorum leaders, all migrate exactly', async (t) => {
  const vhost = await scenarioVhost(t);
  const classic = names('test.queue.ha-all.', 15);
  const quorum = names('test.queue.quorum.', 10);
  await mirrored(vhost, classic);
  for (const name of quorum) await admin().declareQueue(vhost, name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  for (const name of [...classic, ...quorum]) await publish(vhost, { queue: name }, 200);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });

  // The scenarios' policy (queue-version beside ha-*) is a note, not a refusal.
  const check = await call(s, 'POST', `/api/queue-migration/check/${enc(vhost)}`);
  assertSchema('check-response', check.body);
  assert.equal(check.body.overall_ready, true, JSON.stringify(check.body.system_checks));
  assert.ok(
    check.body.queue_checks.results.every((i: any) => i.type === 'policy_keys_dropped' && i.severity === 'info'),
    JSON.stringify(check.body.queue_checks.results),
  );
  assert.match(check.body.queue_checks.results[0].reason, /queue-version/);

  // Every quorum queue of the vhost (the temporary ones too) gets a busy leader now and then.
  await makeLeadersBusy({ vhost, prefixes: [], busyMs: 300, idleMs: 600, forMs: 45_000 });
  const id = await start(s, vhost);
  const done = await finished(s, id);
  assert.equal(done.migration.status, 'completed', JSON.stringify(done.queues.filter((q: any) => q.status !== 'completed')));
  assert.equal(done.migration.total_queues, 15);
  assert.equal(done.migration.completed_queues, 15);
  const types = await queueTypes(vhost);
  assert.equal(Object.values(types).filter((x) => x === 'quorum').length, 25);
  for (const name of classic) assert.equal(await exactCount(vhost, name), 200, name);
});

test("endpoint discovery: GET /api/overview through the sidecar names the sidecar for every node's management listener", async (t) => {
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  const own = new URL(s.url);
  const direct = await admin().ok<{ listeners: Array<{ node: string; protocol: string; port: number }> }>('GET', '/overview');
  for (const encoding of ['identity', 'gzip, deflate']) {
    const res = await s.api('/api/overview', { headers: { 'accept-encoding': encoding } });
    assert.equal(res.status, 200);
    const body = await res.json();
    const http = body.listeners.filter((l: any) => l.protocol === 'http' || l.protocol === 'https');
    // one management listener per node, each the sidecar's address (what a Hop client connects to)
    assert.deepEqual(http.map((l: any) => l.node).sort(), [...cluster.nodeNames].sort());
    for (const l of http) assert.deepEqual([l.protocol, l.ip_address, l.port], ['http', own.hostname, Number(own.port)]);
    // the AMQP listeners are the brokers' own, unchanged
    assert.deepEqual(
      body.listeners.filter((l: any) => l.protocol === 'amqp'),
      direct.listeners.filter((l) => l.protocol === 'amqp'),
    );
  }
  // Behind a Service: the configured address.
  const behind = await startTestSidecar(t, { env: { ...SIDECAR_ENV, QMIG_ADVERTISED_URL: 'https://qmig.example.svc:8443' } });
  const body = await (await behind.api('/api/overview')).json();
  const ports = body.listeners
    .filter((l: any) => l.protocol.startsWith('http') && l.protocol !== 'http/prometheus')
    .map((l: any) => [l.protocol, l.ip_address, l.port]);
  assert.equal(ports.length, cluster.nodeNames.length);
  for (const p of ports) assert.deepEqual(p, ['https', 'qmig.example.svc', 8443]);
});

test("a client that closes every connection (qmig's own included) does not stop qmig: it reconnects and migrates", async (t) => {
  const vhost = await scenarioVhost(t);
  await mirrored(vhost, ['test.queue.ha-all.1', 'test.queue.ha-all.2']);
  await publish(vhost, { queue: 'test.queue.ha-all.1' }, 50);
  await publish(vhost, { queue: 'test.queue.ha-all.2' }, 50);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  // A first migration: qmig now holds AMQP connections (counts, moves, locks).
  const first = await finished(s, await start(s, vhost, { queue_names: ['test.queue.ha-all.1'] }));
  assert.equal(first.migration.status, 'completed');
  const connections = async () => admin().ok<Array<{ name: string; client_properties?: { connection_name?: string } }>>('GET', '/connections');
  const ours = (list: Awaited<ReturnType<typeof connections>>) => list.filter((c) => c.client_properties?.connection_name?.startsWith('qmig'));
  // The management API lists a connection once its statistics arrived.
  for (const until = Date.now() + 20_000; ours(await connections()).length === 0 && Date.now() < until;) await sleep(250);
  assert.ok(ours(await connections()).length > 0, "qmig's own connections are listed");
  // The scenarios' clean-up: every connection of the cluster is closed, qmig's own included.
  for (const c of await connections())
    await admin()
      .deleteIfExists(`/connections/${enc(c.name)}`)
      .catch(() => undefined);
  const second = await finished(s, await start(s, vhost));
  assert.equal(second.migration.status, 'completed', JSON.stringify(second.queues));
  assert.deepEqual(await queueTypes(vhost), { 'test.queue.ha-all.1': 'quorum', 'test.queue.ha-all.2': 'quorum' });
  for (const name of ['test.queue.ha-all.1', 'test.queue.ha-all.2']) assert.equal(await exactCount(vhost, name), 50, name);
});

test("a client that deletes every vhost but the default one (qmig's state vhost included) does not stop qmig: the state vhost is created again and the start migrates", async (t) => {
  const vhost = await scenarioVhost(t);
  await mirrored(vhost, ['test.queue.ha-all.1']);
  await publish(vhost, { queue: 'test.queue.ha-all.1' }, 30);
  await waitSynchronised(vhost);
  // A state vhost of this test's own, so that deleting it touches no other suite's sidecar.
  const stateVhost = `qmig.state.test-${Math.random().toString(16).slice(2, 10)}`;
  t.after(() =>
    admin()
      .deleteIfExists(`/vhosts/${enc(stateVhost)}`)
      .catch(() => undefined),
  );
  const s = await startTestSidecar(t, { env: { ...SIDECAR_ENV, QMIG_STATE_VHOST: stateVhost } });
  assert.ok(await admin().vhost(stateVhost), 'the sidecar created its state vhost at start');
  // The scenarios' clean-up: every non-default vhost is deleted (the plugin keeps none of its own).
  await admin().ok('DELETE', `/vhosts/${enc(stateVhost)}`);
  const done = await finished(s, await start(s, vhost));
  assert.equal(done.migration.status, 'completed', JSON.stringify(done.queues));
  assert.deepEqual(await queueTypes(vhost), { 'test.queue.ha-all.1': 'quorum' });
  assert.equal(await exactCount(vhost, 'test.queue.ha-all.1'), 30);
  // Created again as at start-up: only the service account has a permission there.
  const perms = await admin().vhostPermissions(stateVhost);
  assert.deepEqual(
    perms.map((p) => p.user),
    [cluster.user],
  );
});

test('empty queue: an empty mirrored queue becomes an empty quorum queue', async (t) => {
  const vhost = await scenarioVhost(t);
  await mirrored(vhost, ['test.queue.empty']);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  const done = await finished(s, await start(s, vhost));
  assert.equal(done.migration.status, 'completed');
  assert.deepEqual([done.queues[0].status, done.queues[0].total_messages], ['completed', 0]);
  assert.deepEqual(await queueTypes(vhost), { 'test.queue.empty': 'quorum' });
  assert.equal(await exactCount(vhost, 'test.queue.empty'), 0);
});

test('batch: batch_size 2 smallest_first migrates the two smallest, the rest stay classic for the next batch', async (t) => {
  const vhost = await scenarioVhost(t);
  const qs = names('test.queue.batch.', 4);
  await mirrored(vhost, qs);
  const sizes = Object.fromEntries(qs.map((name, i) => [name, 10 * (4 - i)]));
  for (const name of qs) await publish(vhost, { queue: name }, sizes[name]);
  await waitSynchronised(vhost);
  await waitForSizes(vhost, sizes);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  const done = await finished(s, await start(s, vhost, { batch_size: 2, batch_order: 'smallest_first' }));
  assert.equal(done.migration.status, 'completed');
  assert.equal(done.migration.total_queues, 2);
  assert.deepEqual(done.queues.map((q: any) => q.resource.name).sort(), ['test.queue.batch.3', 'test.queue.batch.4']);
  assert.deepEqual(await queueTypes(vhost), {
    'test.queue.batch.1': 'classic',
    'test.queue.batch.2': 'classic',
    'test.queue.batch.3': 'quorum',
    'test.queue.batch.4': 'quorum',
  });
  // the next batch takes the rest
  const next = await finished(s, await start(s, vhost, { batch_size: 'all' }));
  assert.equal(next.migration.status, 'completed');
  assert.equal(next.migration.total_queues, 2);
  for (const [i, name] of qs.entries()) assert.equal(await exactCount(vhost, name), 10 * (4 - i), name);
});

test('skip-unsuitable: skipped queues carry the bare reason token, the explanation beside it', async (t) => {
  const vhost = await scenarioVhost(t);
  await mirrored(vhost, ['test.queue.ok.1', 'test.queue.ok.2']);
  await mirrored(vhost, ['test.queue.unsuitable.overflow'], { 'x-overflow': 'reject-publish-dlx' });
  await mirrored(vhost, ['test.queue.unsuitable.expires'], { 'x-expires': 3_600_000 });
  await mirrored(vhost, ['test.queue.unsuitable.ttl'], { 'x-message-ttl': 3_600_000 });
  await publish(vhost, { queue: 'test.queue.ok.1' }, 20);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  // without skip mode: the spec's refusal
  const refused = await call(s, 'POST', `/api/queue-migration/start/${enc(vhost)}`, {});
  assert.equal(refused.status, 400);
  assertSchema('error-response', refused.body);
  assert.match(refused.body.reason, /^Found 3 queue\(s\) with issues/);
  const done = await finished(s, await start(s, vhost, { skip_unsuitable_queues: true }));
  assert.equal(done.migration.status, 'completed');
  assert.equal(done.migration.skipped_queues, 3);
  const byName = Object.fromEntries(done.queues.map((q: any) => [q.resource.name, q]));
  assert.deepEqual(
    ['overflow', 'expires', 'ttl'].map((k) => [byName[`test.queue.unsuitable.${k}`].status, byName[`test.queue.unsuitable.${k}`].error]),
    [
      ['skipped', 'unsuitable_overflow'],
      ['skipped', 'queue_expires'],
      ['skipped', 'message_ttl'],
    ],
  );
  assert.match(byName['test.queue.unsuitable.overflow'].error_detail, /^unsuitable_overflow: overflow=reject-publish-dlx/);
  const types = await queueTypes(vhost);
  assert.deepEqual([types['test.queue.ok.1'], types['test.queue.ok.2'], types['test.queue.unsuitable.overflow']], ['quorum', 'quorum', 'classic']);
  assert.equal(await exactCount(vhost, 'test.queue.ok.1'), 20);
});

test('allow-message-ttl: TTL queues refuse a start unless allow_message_ttl is set, then migrate', async (t) => {
  const vhost = await scenarioVhost(t);
  await mirrored(vhost, ['test.queue.ttl.1', 'test.queue.ttl.2'], { 'x-message-ttl': 3_600_000 });
  await publish(vhost, { queue: 'test.queue.ttl.1' }, 30);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: SIDECAR_ENV });
  const refused = await call(s, 'POST', `/api/queue-migration/start/${enc(vhost)}`, {});
  assert.equal(refused.status, 400);
  assert.match(refused.body.reason, /unsuitable/);
  const done = await finished(s, await start(s, vhost, { allow_message_ttl: true, tolerance: 10 }));
  assert.equal(done.migration.status, 'completed');
  assert.deepEqual(await queueTypes(vhost), { 'test.queue.ttl.1': 'quorum', 'test.queue.ttl.2': 'quorum' });
  const args = (await admin().queue(vhost, 'test.queue.ttl.1'))?.arguments;
  assert.equal(args?.['x-message-ttl'], 3_600_000, 'the TTL is kept on the quorum queue');
  assert.equal(await exactCount(vhost, 'test.queue.ttl.1'), 30);
});

test('interrupt: queues in flight finish, the rest are skipped as `interrupted`, nothing is lost', async (t) => {
  const vhost = await scenarioVhost(t);
  const qs = names('test.queue.int.', 12);
  await mirrored(vhost, qs);
  for (const name of qs) await publish(vhost, { queue: name }, 100);
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: { ...SIDECAR_ENV, QMIG_MIGRATION_CONCURRENCY: '1' } });
  const id = await start(s, vhost);
  const r = await call(s, 'POST', `/api/queue-migration/interrupt/${enc(id)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertSchema('interrupt-response', r.body);
  const done = await finished(s, id);
  assert.equal(done.migration.status, 'interrupted');
  const skipped = done.queues.filter((q: any) => q.status === 'skipped');
  assert.ok(skipped.length > 0, 'some queues were not started');
  assert.ok(
    skipped.every((q: any) => q.error === 'interrupted'),
    JSON.stringify(skipped.map((q: any) => q.error)),
  );
  const types = await queueTypes(vhost);
  for (const q of done.queues) assert.equal(types[q.resource.name], q.status === 'completed' ? 'quorum' : 'classic', q.resource.name);
  for (const name of qs) assert.equal(await exactCount(vhost, name), 100, name);
});

test('end-to-end: queues bound to topic and headers exchanges migrate with their bindings and every message; status lists the migration first', async (t) => {
  const vhost = await scenarioVhost(t);
  const mgmt = admin();
  await mgmt.ok('PUT', `/exchanges/${enc(vhost)}/test.exchange.0`, { type: 'topic', durable: true });
  await mgmt.ok('PUT', `/exchanges/${enc(vhost)}/test.headers`, { type: 'headers', durable: true });
  const qs = names('test.queue.e2e.', 3);
  await mirrored(vhost, qs);
  for (const [i, q] of qs.entries()) {
    await mgmt.bindQueue(vhost, 'test.exchange.0', q, `orders.${i}.#`, {});
    await mgmt.bindQueue(vhost, 'test.headers', q, '', { 'x-match': 'all', region: `r${i}` });
  }
  const bindingsOf = async (q: string) =>
    (await mgmt.queueBindings(vhost, q))
      .filter((b) => b.source !== '')
      .map((b) => [b.source, b.routing_key, JSON.stringify(b.arguments)].join('|'))
      .sort();
  const bindingsBefore = await Promise.all(qs.map(bindingsOf));
  // through the exchanges (varied properties) and directly; the last queue passes the shovel threshold
  await publish(vhost, { exchange: 'test.exchange.0', routingKey: 'orders.0.created' }, variedMessages(20, 'topic'));
  await publish(
    vhost,
    { exchange: 'test.headers' },
    variedMessages(15, 'headers').map((m) => ({ ...m, properties: { ...m.properties, headers: { ...m.properties?.headers, region: 'r1' } } })),
  );
  await publish(vhost, { queue: 'test.queue.e2e.3' }, variedMessages(120, 'direct'));
  await waitSynchronised(vhost);
  const before = await takeBaseline(vhost, qs, []);
  assert.deepEqual(
    qs.map((q) => before.fingerprints.get(q)?.length),
    [20, 15, 120],
  );

  const s = await startTestSidecar(t, { env: { ...SIDECAR_ENV, QMIG_SHOVEL_MIN_MESSAGES: '100' } });
  const id = await start(s, vhost);
  // The scenarios find "their" migration as the latest started_at in GET status.
  const list = await call(s, 'GET', '/api/queue-migration/status');
  assertSchema('status-list-response', list.body);
  const ours = list.body.migrations.find((m: any) => m.id === id);
  assert.match(ours?.started_at ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const done = await finished(s, id);
  assert.equal(done.migration.status, 'completed');
  await assertIntegrity(before, id);
  assert.deepEqual(await Promise.all(qs.map(bindingsOf)), bindingsBefore, 'bindings are kept');
  // routing still works: a message through the topic exchange lands in the quorum queue
  await publish(vhost, { exchange: 'test.exchange.0', routingKey: 'orders.0.after' }, 1);
  assert.equal(await exactCount(vhost, 'test.queue.e2e.1'), 21);
});
