/**
 * Issue 16: the WHOLE cluster stopped and started again in the middle of a migration. On a 3-node
 * cluster of its own (`${test cluster}-restart`, offset +300): a vhost of 50 mirrored classic
 * queues (mixed sizes, six with 1,500–3,000 persistent messages so the shovel path is used), the
 * content digests taken before, a migration started through sidecars spawned beside each node;
 * while shovels run, every node is stopped (`cluster.sh stop`) and the cluster booted again on its
 * data (`cluster.sh up`). The sidecars reconnect; the migration completes on its own, or the
 * operator finishes it with ONE call (`POST repair/:id`). Then: all 50 queues quorum, every digest
 * equal to before (0 messages lost), no temporary queue, no shovel, the fence lifted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { admin } from '../support/cluster.js';
import { stopAll, upAgain, useExtraCluster, type ExtraCluster } from '../support/extra-cluster.js';
import { assertIntegrity, takeBaseline } from '../support/integrity.js';
import { publish, type TestMessage } from '../support/messages.js';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, waitSynchronised } from '../integration/migration-support.js';
import { cleanupRecords, diagnose } from './large-vhost.js';
import { apiJson, reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

const teardown: Array<() => unknown> = [];
let restartCluster: ExtraCluster;
before(async () => {
  restartCluster = await useExtraCluster({ after: (fn) => teardown.push(fn) }, { suffix: 'restart', nodes: 3, offsetDelta: 300, tls: false });
});
after(async () => {
  for (const fn of teardown) await fn();
});

/** Persistent only: a whole-cluster stop drops the transient messages of classic queues by design. */
function persistentMessages(queue: string, n: number): TestMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: i % 7 === 0 ? Buffer.from([0, 255, i & 255, 10, 13]) : `${queue}-${i}-${'x'.repeat(i % 50)}`,
    properties: {
      persistent: true,
      messageId: `${queue}-m${i}`,
      correlationId: i % 3 === 0 ? `c-${i}` : undefined,
      contentType: i % 2 === 0 ? 'application/json' : 'text/plain',
      priority: i % 4,
      timestamp: 1_700_000_000 + i,
      headers: { n: i, queue, nested: { a: [1, 'two', i % 2 === 0] } },
    },
  }));
}

const LARGE = [1500, 3000, 2000, 2500, 1800, 2200];
/** 50 queues: six large ones, the rest 0–240 messages (every fifth empty). */
function sizes(): number[] {
  return Array.from({ length: 50 }, (_, i) => (i < LARGE.length ? LARGE[i] : i % 5 === 0 ? 0 : 10 + ((i * 37) % 230)));
}

test('the whole cluster stopped and started in the middle of a migration: it completes (or one repair call finishes it), nothing lost', async (t) => {
  const vhost = await testVhost(t);
  const mgmt = admin();
  await mirrorPolicy(vhost, '^q');
  const user = await testUser(t, ['management'], []);
  await mgmt.setPermission(vhost, user.user, { configure: '^app\\.', write: '.*', read: '^q' });
  const counts = sizes();
  const queues = counts.map((_, i) => `q${String(i).padStart(2, '0')}`);
  for (const [i, q] of queues.entries()) {
    await classicQueue(vhost, q, {}, i % 3);
    await mgmt.bindQueue(vhost, 'amq.direct', q, `rk-${q}`, {});
  }
  for (let i = 0; i < queues.length; i += 5) {
    await Promise.all(
      queues.slice(i, i + 5).map((q, j) => (counts[i + j] > 0 ? publish(vhost, { queue: q }, persistentMessages(q, counts[i + j]), (i + j) % 3) : null)),
    );
  }
  await waitSynchronised(vhost, 120_000);
  const baseline = await takeBaseline(vhost, queues, [user.user]);
  cleanupRecords(t, vhost);

  const env = reliabilityEnv(vhost, {
    QMIG_HOUSEKEEPING_CRON: '*/2 * * * * *',
    QMIG_MIGRATION_CONCURRENCY: '3',
    QMIG_LOG_LEVEL: 'info',
  });
  const spawn = (node: number) => spawnSidecar(t, { node, env, startTimeoutMs: 120_000 });
  const sidecars: SpawnedSidecar[] = [await spawn(0), await spawn(1), await spawn(2)];

  const started = await apiJson(`${sidecars[0].url}/api/queue-migration/start/${encodeURIComponent(vhost)}`, 'POST', {
    batch_size: 'all',
    batch_order: 'largest_first',
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id: string = started.body.migration_id;

  // Stop the cluster while shovels move the large queues (and after a first queue completed).
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await apiJson(`${sidecars[0].url}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
    const shovels = await mgmt.ok<Array<{ name: string }>>('GET', `/parameters/shovel/${enc(vhost)}`).catch(() => []);
    if ((r.body?.migration?.completed_queues ?? 0) >= 1 && shovels.length > 0) {
      t.diagnostic(`stopping the cluster: ${r.body.migration.completed_queues}/50 completed, shovels ${shovels.map((s) => s.name).join(', ')}`);
      break;
    }
    assert.ok(Date.now() < deadline, `no moment with a completed queue and a running shovel: ${JSON.stringify(r.body?.migration)}`);
    await sleep(100);
  }
  const stopStarted = Date.now();
  const stopped = await stopAll(restartCluster);
  const stopMs = Date.now() - stopStarted;
  await sleep(3000);
  const upStarted = Date.now();
  await upAgain(restartCluster);
  t.diagnostic(`cluster stopped in ${stopMs} ms (${stopped.trim().split('\n').pop()}), up again in ${Date.now() - upStarted} ms`);

  let detail = await waitTerminal(sidecars[0].url, id, 480_000).catch(async (err) => {
    throw new Error(
      `${err.message}\n${await diagnose(
        id,
        vhost,
        sidecars.map((s) => s.output()),
      )}`,
    );
  });
  t.diagnostic(`after the restart: ${detail.migration.status} ${detail.migration.completed_queues}/50 ${detail.migration.error ?? ''}`);
  if (detail.migration.status !== 'completed') {
    // The operator's one call: finish the failed queues forward.
    const repair = await apiJson(`${sidecars[0].url}/api/queue-migration/repair/${encodeURIComponent(id)}`, 'POST', { reason: 'cluster restarted mid-run' });
    assert.equal(
      repair.status,
      200,
      `${JSON.stringify(repair.body)}\n${await diagnose(
        id,
        vhost,
        sidecars.map((s) => s.output()),
      )}`,
    );
    const repaired = await waitTerminal(sidecars[0].url, repair.body.migration_id, 300_000);
    t.diagnostic(`repair ${repair.body.migration_id}: ${repaired.migration.status} ${repaired.migration.error ?? ''}`);
    detail = await waitTerminal(sidecars[0].url, id);
  }
  const notCompleted = ((detail.queues ?? []) as Array<Record<string, unknown>>).filter((q) => q.status !== 'completed');
  if (notCompleted.length > 0) {
    t.diagnostic(`not completed: ${JSON.stringify(notCompleted).slice(0, 3000)}`);
    const names = notCompleted.map((q) => `"${(q.resource as { name: string }).name}"`);
    const lines = sidecars.flatMap((s) => s.output().split('\n')).filter((l) => names.some((n) => l.includes(n)));
    t.diagnostic(`their log lines:\n${lines.slice(-30).join('\n').slice(0, 6000)}`);
  }
  if (detail.migration.status !== 'completed')
    assert.fail(
      `not completed: ${await diagnose(
        id,
        vhost,
        sidecars.map((s) => s.output()),
      )}`,
    );

  await assertIntegrity(baseline, id);
  // The vhost is also the sidecars' state vhost: their lock queues (exclusive, e.g. housekeeping's
  // every 2 s) live there while they run, and go with them.
  for (const s of sidecars) await s.kill('SIGTERM');
  const all = await mgmt.queues(vhost, ['name', 'type']);
  assert.deepEqual(
    all.filter((q) => q.name.startsWith('qmig.') && !q.name.startsWith('qmig.lock.')).map((q) => q.name),
    [],
    'no temporary queue (qmig.tmp.*) or other qmig queue left',
  );
  const after = all.filter((q) => !q.name.startsWith('qmig.'));
  assert.deepEqual(
    after.filter((q) => q.type !== 'quorum').map((q) => q.name),
    [],
    'every queue is quorum',
  );
  assert.equal(after.length, 50, 'the 50 queues and nothing else');
});
