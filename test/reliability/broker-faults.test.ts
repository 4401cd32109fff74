/**
 * The broker misbehaving under a running migration:
 * - a broker node (not the one the sidecar talks to) stopped (`rabbitmqctl stop_app`) and started
 *   again while queues mastered on it are being moved;
 * - the management API unreachable for 10 s (the sidecar talks to it through a TCP proxy, which
 *   resets every connection for 10 s) in the middle of the moves.
 * Either way the migration ends completed or rollback_pending, truthfully: the integrity check
 * (every message where the record says, identical to before; no shovel; no unnamed temporary
 * queue; permissions and limits restored) holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationService } from '../../src/migration/migration-service.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin, cluster, rabbitmqctl, repairNodeStatistics } from '../support/cluster.js';
import { assertIntegrity } from '../support/integrity.js';
import { startTestSidecar } from '../support/sidecar.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { apiJson, prepareVhost, reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';
import { testSeal } from '../support/state-secret.js';

const store = new MigrationStore(admin(), testSeal());

function cleanupRecords(t: { after(fn: () => unknown): void }, vhost: string): void {
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) if (r.vhost === vhost) await store.delete(r).catch(() => undefined);
  });
}

async function waitNodeRunning(i: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await admin()
      .nodes()
      .catch(() => []);
    if (nodes.find((n) => n.name === cluster.nodeNames[i])?.running) return;
    if (Date.now() > deadline) throw new Error(`node ${cluster.nodeNames[i]} not running again`);
    await sleep(500);
  }
}

test('a broker node stopped and started while its queues are being moved: completed or rollback_pending, nothing lost', async (t) => {
  const NODE = 1; // test2: never node 1, which the sidecar talks to
  const p = await prepareVhost(t, [
    { name: 'n2-a', messages: 2500, node: NODE },
    { name: 'n2-b', messages: 2500, node: NODE },
    { name: 'n2-c', messages: 2500, node: NODE },
    { name: 'n3-a', messages: 1500, node: 2 },
    { name: 'n1-a', messages: 1500, node: 0 },
  ]);
  cleanupRecords(t, p.vhost);
  // Whatever happens below, the node runs again before this test ends, and every node reports
  // statistics again (a node restart can trip 3.10's management-agent crash; see cluster.ts).
  t.after(async () => {
    await rabbitmqctl(NODE, 'start_app').catch(() => undefined);
    await waitNodeRunning(NODE).catch(() => undefined);
    await sleep(2000);
    await repairNodeStatistics().catch(() => undefined);
  });
  let outage: Promise<void> | null = null;
  const sidecar = await startTestSidecar(t, {
    env: reliabilityEnv(p.vhost, { QMIG_MIGRATION_CONCURRENCY: '2' }),
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          onShovelCreated: ({ queue, direction }) => {
            if (outage || queue !== 'n2-a' || direction !== 'to-temporary') return;
            // The node goes away while the shovel moves n2-a (mastered there) and comes back 3 s later.
            outage = (async () => {
              await rabbitmqctl(NODE, 'stop_app');
              await sleep(3000);
              await rabbitmqctl(NODE, 'start_app');
            })();
          },
        },
      }),
  });
  const started = await apiJson(`${sidecar.url}/api/queue-migration/start/${encodeURIComponent(p.vhost)}`, 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = started.body.migration_id;
  const detail = await waitTerminal(sidecar.url, id, 300_000);
  assert.ok(outage, 'the node was stopped during the migration');
  await outage;
  await waitNodeRunning(NODE);
  const { record, queues } = await assertIntegrity(p.baseline, id, { statuses: ['completed', 'rollback_pending'] });
  if (record.status === 'rollback_pending') {
    // Truthful: the failed queues say why, and the summary names them.
    for (const q of queues.filter((x) => x.status === 'failed')) assert.match(record.error ?? '', new RegExp(q.name));
  }
  // Copies the broker made by redelivering around the restart were taken out (the integrity check above proved the rest).
  const copies = queues.filter((q) => typeof q.detail.copies_removed === 'number').map((q) => `${q.name}: ${q.detail.copies_removed} copies removed`);
  t.diagnostic(
    `node stop: migration ${record.status}; ${JSON.stringify(detail.queues.map((q: { resource: { name: string }; status: string }) => [q.resource.name, q.status]))}; ${copies.join(', ') || 'no copies'}`,
  );
});

test('the management API unreachable for 10 s in the middle of the moves: the migration rides it out, nothing lost', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 3000, node: 0 },
    { name: 'q-b', messages: 3000, node: 1 },
    { name: 'q-c', messages: 2000, node: 2 },
    { name: 'q-d', messages: 500, node: 0 },
  ]);
  cleanupRecords(t, p.vhost);
  const mgmtUrl = new URL(cluster.managementUrls[0]);
  const proxy = await startTcpProxy({ host: mgmtUrl.hostname, port: Number(mgmtUrl.port) });
  t.after(() => proxy.close());
  let outage: Promise<void> | null = null;
  const sidecar = await startTestSidecar(t, {
    env: reliabilityEnv(p.vhost, { QMIG_MANAGEMENT_URL: proxy.url, QMIG_MIGRATION_CONCURRENCY: '2' }),
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          onShovelCreated: ({ queue, direction }) => {
            if (outage || queue !== 'q-a' || direction !== 'to-temporary') return;
            outage = (async () => {
              proxy.pause('reset');
              await sleep(10_000);
              proxy.resume();
            })();
          },
        },
      }),
  });
  // The test talks to the sidecar, which reaches the broker only through the proxy.
  const started = await apiJson(`${sidecar.url}/api/queue-migration/start/${encodeURIComponent(p.vhost)}`, 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = started.body.migration_id;
  await waitTerminal(sidecar.url, id, 300_000);
  assert.ok(outage, 'the management API went away during the migration');
  await outage;
  const { record } = await assertIntegrity(p.baseline, id, { statuses: ['completed', 'rollback_pending'] });
  t.diagnostic(`management outage: migration ${record.status} ${record.error ?? ''}`);
  assert.equal(record.status, 'completed', `a 10 s management outage must not fail the migration: ${record.error}`);
});
