/**
 * Issue 16, "survive node restarts": a broker node (the second) is stopped with `rabbitmqctl
 * stop_app` in the middle of a migration of 50 mirrored classic queues (ha-mode all, masters spread
 * over the three nodes, most small — moved by the sidecar — and five of 1,500–3,000 messages —
 * moved by shovels), kept down for 12 s while the run goes on, and started again; once with the
 * sidecar beside the first node, once beside the stopped node (its run loses the cluster lock and
 * is resumed by housekeeping). The migration ends completed (or, if the stop failed queues, one
 * repair call finishes it): every queue is a quorum queue holding exactly the messages it held
 * before (content digests), no temporary queue and no shovel are left, the clients' permissions
 * are back. The node runs again and the cluster is healthy when the test ends, whatever happened.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster, rabbitmqctl, repairNodeStatistics, repairShovelPlugin } from '../support/cluster.js';
import { assertIntegrity, publishVaried, takeBaseline } from '../support/integrity.js';
import { spawnSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, waitSynchronised } from '../integration/migration-support.js';
import { cleanupRecords, diagnose } from './large-vhost.js';
import { apiJson, reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

/** The node stopped: the second (0-based 1). */
const NODE = 1;
const QUEUES = 50;
/**
 * Queues big enough for the shovel path (QMIG_SHOVEL_MIN_MESSAGES is 1,000), one in ten, on every
 * node (queue i's master is on node i % 3), three of them on the node that is stopped.
 */
const BIG: Record<number, number> = { 4: 1500, 13: 2000, 24: 2400, 35: 2700, 46: 3000 };
/** How long the node stays down while the run goes on. */
const DOWN_MS = 12_000;

const queueName = (i: number) => `q${String(i).padStart(2, '0')}`;
const messagesOf = (i: number) => BIG[i] ?? 20 + ((i * 37) % 181);
const statusUrl = (base: string, id: string) => `${base}/api/queue-migration/status/${encodeURIComponent(id)}`;

/** start_app, tried again while it fails (a node that is still stopping refuses it). */
async function startApp(i: number, tries = 10): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await rabbitmqctl(i, 'start_app');
      return;
    } catch (err) {
      if (attempt >= tries) throw err;
      await sleep(2000);
    }
  }
}

/**
 * All nodes running with statistics (management agents answer), no partition, the shovel plugin
 * running everywhere; node `i`'s own API answers. What a restart broke in the broker itself (3.10
 * bugs, see cluster.ts: a crashed statistics agent, a shovel plugin that exited on a node that
 * stayed up) is repaired on the way; returns what was repaired.
 */
async function waitClusterHealthy(i: number, timeoutMs = 180_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const repaired: string[] = [];
  let lastRepair = Date.now();
  let last = '';
  for (;;) {
    const nodes = await admin()
      .ok<Array<{ name: string; running: boolean; mem_used?: number | null; partitions?: string[]; applications?: Array<{ name: string }> }>>('GET', '/nodes')
      .catch(() => []);
    const shovel = (n: (typeof nodes)[number]) => n.applications?.some((a) => a.name === 'rabbitmq_shovel') === true;
    last = JSON.stringify(nodes.map((n) => [n.name, n.running, n.mem_used != null, n.partitions, shovel(n)]));
    const running = nodes.filter((n) => n.running);
    const healthy =
      nodes.length === cluster.nodeNames.length &&
      running.length === nodes.length &&
      nodes.every((n) => (n.partitions ?? []).length === 0 && n.mem_used != null && shovel(n)) &&
      (await admin(i)
        .ok('GET', '/overview')
        .then(() => true)
        .catch(() => false));
    if (healthy) return repaired;
    if (Date.now() > deadline) throw new Error(`cluster not healthy again: ${last}`);
    if (running.length === nodes.length && Date.now() - lastRepair > 5000) {
      lastRepair = Date.now();
      for (const n of await repairNodeStatistics().catch(() => [])) repaired.push(`statistics agent on ${n}`);
      for (const n of await repairShovelPlugin().catch(() => [])) repaired.push(`shovel plugin on ${n}`);
    }
    await sleep(500);
  }
}

interface QueueView {
  resource: { name: string };
  status: string;
  phase: string;
}

/**
 * The scenario, with the sidecar beside node `sidecarNode` (0-based). Beside the stopped node, the
 * sidecar loses its broker: its lock dies with its AMQP connection, its run stops taking steps,
 * and once the node is back its housekeeping (every 2 s here) resumes the migration.
 */
async function scenario(t: TestContext, sidecarNode: number): Promise<void> {
  // Registered first, so it runs first (hooks run in order): the node runs again before the vhost
  // is deleted and before the next test file uses the cluster.
  t.after(async () => {
    await startApp(NODE).catch(() => undefined);
    await waitClusterHealthy(NODE);
  });
  const vhost = await testVhost(t);
  cleanupRecords(t, vhost);
  const mgmt = admin();
  await mirrorPolicy(vhost, '^q\\d', { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' });
  const app = await testUser(t, ['management'], []);
  await mgmt.setPermission(vhost, app.user, { configure: '^app\\.', write: '.*', read: '^q' });
  const queues = Array.from({ length: QUEUES }, (_, i) => queueName(i));
  for (const [i, q] of queues.entries()) {
    await classicQueue(vhost, q, i % 7 === 3 ? { 'x-max-length': 100_000 } : {}, i % 3);
    if (i % 3 === 0) await mgmt.bindQueue(vhost, 'amq.direct', q, `rk-${q}`, {});
    if (i % 4 === 0) await mgmt.bindQueue(vhost, 'amq.topic', q, `orders.${q}.#`, { region: 'eu' });
  }
  for (let i = 0; i < QUEUES; i += 10) await Promise.all(queues.slice(i, i + 10).map((q, j) => publishVaried(vhost, q, messagesOf(i + j))));
  await waitSynchronised(vhost, 120_000);
  const baseline = await takeBaseline(vhost, queues, [app.user]);
  const total = queues.reduce((n, _, i) => n + messagesOf(i), 0);

  // One queue at a time: the stop, the 12 s down and the restart land in the middle of the run.
  const sidecar = await spawnSidecar(t, {
    node: sidecarNode,
    env: reliabilityEnv(vhost, { QMIG_MIGRATION_CONCURRENCY: '1', QMIG_LOG_LEVEL: 'info', QMIG_HOUSEKEEPING_CRON: '*/2 * * * * *' }),
    startTimeoutMs: 120_000,
  });
  // The queues in this order (spread over the nodes by the run): the shovel-path queues in the
  // middle, where the node stops (by default the smallest queues go first, these would be last).
  const small = queues.filter((_, i) => !(i in BIG));
  const order = [...small.slice(0, 15), ...queues.filter((_, i) => i in BIG), ...small.slice(15)];
  const started = await apiJson(`${sidecar.url}/api/queue-migration/start/${encodeURIComponent(vhost)}`, 'POST', { queue_names: order });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id: string = started.body.migration_id;

  // Stop the node once a shovel-path queue is under way (or, should it be missed, once the run
  // reached its second half).
  const big = new Set(Object.keys(BIG).map((i) => queueName(Number(i))));
  let atStop: { completed: number; inFlight: string[] } | null = null;
  for (;;) {
    const r = await apiJson(statusUrl(sidecar.url, id), 'GET');
    const m = r.body?.migration;
    assert.equal(m?.status, 'in_progress', `the run ended before the node was stopped: ${JSON.stringify(m)}`);
    const inFlight = (r.body.queues as QueueView[]).filter((q) => q.status === 'in_progress').map((q) => `${q.resource.name}:${q.phase}`);
    const bigMoving = inFlight.some((q) => big.has(q.split(':')[0]));
    if (bigMoving || m.completed_queues >= QUEUES / 2) {
      atStop = { completed: m.completed_queues, inFlight };
      break;
    }
    await sleep(50);
  }
  const stopStarted = Date.now();
  await rabbitmqctl(NODE, 'stop_app');
  const stopMs = Date.now() - stopStarted;
  await sleep(DOWN_MS);
  const during = (await apiJson(statusUrl(sidecar.url, id), 'GET').catch(() => null))?.body?.migration;
  await startApp(NODE);
  const repaired = await waitClusterHealthy(NODE);
  t.diagnostic(
    `node ${cluster.nodeNames[NODE]} stopped at ${atStop.completed}/${QUEUES} completed (in flight: ${atStop.inFlight.join(', ')}; stop_app took ${stopMs} ms), ` +
      (during ? `${during.completed_queues}/${QUEUES} completed and ${during.status} after ${DOWN_MS / 1000} s down` : `no status while its node was down`) +
      (repaired.length > 0 ? `; broker repaired after the restart: ${repaired.join(', ')}` : ''),
  );
  if (sidecarNode !== NODE) assert.equal(during?.status, 'in_progress', 'the run went on while the node was down');

  let detail = await waitTerminal(sidecar.url, id, 600_000);
  if (detail.migration.status !== 'completed') {
    // The operator's one call: a repair of the queues the stop failed (README "Undo").
    const failed = (detail.queues as QueueView[]).filter((q) => q.status === 'failed').map((q) => q.resource.name);
    t.diagnostic(`migration ended ${detail.migration.status} (${detail.migration.error}); repairing ${failed.join(', ')}`);
    const repair = await apiJson(`${sidecar.url}/api/queue-migration/repair/${encodeURIComponent(id)}`, 'POST', {});
    assert.equal(repair.status, 200, JSON.stringify(repair.body));
    const repaired = await waitTerminal(sidecar.url, repair.body.migration_id, 600_000);
    assert.equal(repaired.migration.status, 'completed', `the repair completes: ${JSON.stringify(repaired.migration)}`);
    detail = (await apiJson(statusUrl(sidecar.url, id), 'GET')).body;
  }
  if (detail.migration.status !== 'completed') assert.fail(`migration ${detail.migration.status}:\n${await diagnose(id, vhost, [sidecar.output()])}`);

  // Every queue quorum, complete and identical to before; no shovel, no unnamed temporary queue, clients back.
  const { record, queues: records } = await assertIntegrity(baseline, id);
  if (sidecarNode === NODE)
    assert.ok(
      record.notes.some((n) => /resumed by/.test(n)),
      `the record says it was resumed: ${record.notes}`,
    );
  assert.deepEqual(
    records.filter((q) => q.status !== 'completed').map((q) => `${q.name}: ${q.status}`),
    [],
    'every queue completed',
  );
  const after = await mgmt.queues(vhost, ['name', 'type']);
  assert.deepEqual(
    queues.filter((name) => after.find((q) => q.name === name)?.type !== 'quorum'),
    [],
    'every queue is a quorum queue',
  );
  assert.deepEqual(
    after.map((q) => q.name).filter((n) => n.startsWith('qmig.tmp.')),
    [],
    'no temporary queue is left',
  );
  assert.deepEqual(
    (await mgmt.ok<Array<{ name: string }>>('GET', `/parameters/shovel/${enc(vhost)}`)).map((s) => s.name),
    [],
    'no shovel is left',
  );
  let counted = 0;
  for (const q of queues) counted += baseline.fingerprints.get(q)!.length;
  assert.equal(counted, total, 'the baseline holds every message published');
  await sidecar.kill('SIGTERM');
}

test('a node stopped for 12 s in the middle of a 50-queue migration, the sidecar beside another node: it completes, every queue quorum with the same messages', (t) =>
  scenario(t, 0));

test('the node of the sidecar running a 50-queue migration stopped for 12 s: the migration is resumed and completes, every queue quorum with the same messages', (t) =>
  scenario(t, NODE));
