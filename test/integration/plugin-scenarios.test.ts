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
  assert.ok(check.body.queue_checks.results.every((i: any) => i.type === 'policy_keys_dropped' && i.severity === 'info'), JSON.stringify(check.body.queue_checks.results));
  assert.match(check.body.queue_checks.results[0].reason, /queue-version/);

  // Every quorum queue of the vhost (the temporary ones too) gets a busy leader now and then.
  await makeLeadersBusy({ vhost, prefixes: [], busyMs: 400, idleMs: 400, forMs: 60_000 });
  const id = await start(s, vhost);
  const done = await finished(s, id);
  assert.equal(done.migration.status, 'completed', JSON.stringify(done.queues.filter((q: any) => q.status !== 'completed')));
  assert.equal(done.migration.total_queues, 15);
  assert.equal(done.migration.completed_queues, 15);
  const types = await queueTypes(vhost);
  assert.equal(Object.values(types).filter((x) => x === 'quorum').length, 25);
  for (const name of classic) assert.equal(await exactCount(vhost, name), 200, name);
});
