/**
 * Races and scope of the cluster-wide lock:
 * - 20 concurrent `start` requests spread over 3 sidecars (one beside each node) → exactly one
 *   200, the 19 others 409 naming the winner's migration; the winner completes, nothing lost;
 * - records are cluster-wide but the lock lives in QMIG_STATE_VHOST: a sidecar resumes (and
 *   answers 409 for) only migrations guarded in its own state vhost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationService } from '../../src/migration/migration-service.js';
import { FenceVault } from '../../src/state/fence-vault.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { newMigrationId, displayId } from '../../src/state/migration-id.js';
import { timestamp, type MigrationRecord } from '../../src/state/records.js';
import { admin, cluster } from '../support/cluster.js';
import { assertIntegrity } from '../support/integrity.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { engineContext, startOptions } from '../integration/migration-support.js';
import { apiJson, prepareVhost, reliabilityEnv, waitTerminal } from './reliability-support.js';
import { testSeal } from '../support/state-secret.js';

const store = new MigrationStore(admin(), testSeal());

function cleanupRecords(t: { after(fn: () => unknown): void }, vhosts: string[]): void {
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) if (vhosts.includes(r.vhost)) await store.delete(r).catch(() => undefined);
  });
}

test("20 concurrent starts over 3 sidecars: exactly one 200, 19 × 409 with the winner's id; the winner completes", async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 300, node: 0 },
    { name: 'q-b', messages: 300, node: 1 },
    { name: 'q-c', messages: 0, node: 2 },
  ]);
  cleanupRecords(t, [p.vhost]);
  // The winner's queues wait until every answer is in, so that no late request could start a second migration.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  t.after(() => release());
  const sidecars = await Promise.all(
    [0, 1, 2].map((node) =>
      startTestSidecar(t, { node, env: reliabilityEnv(p.vhost), engine: (ctx) => new MigrationService(ctx, { hooks: { beforeStep: () => gate } }) }),
    ),
  );
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => apiJson(`${sidecars[i % 3].url}/api/queue-migration/start/${encodeURIComponent(p.vhost)}`, 'POST', {})),
  );
  const ok = answers.filter((a) => a.status === 200);
  const conflicts = answers.filter((a) => a.status === 409);
  assert.equal(ok.length, 1, JSON.stringify(answers.map((a) => [a.status, a.body])));
  assert.equal(conflicts.length, 19, JSON.stringify(answers.map((a) => [a.status, a.body])));
  assertSchema('start-response', ok[0].body);
  const id = ok[0].body.migration_id;
  for (const c of conflicts) {
    assertSchema('error-response', c.body);
    assert.deepEqual(c.body, { error: 'Migration already in progress', current_migration_id: id });
  }
  release();
  const winner = sidecars.find((s) => (s.engine as MigrationService).running().includes(id)) ?? sidecars[0];
  await waitTerminal(winner.url, id);
  await assertIntegrity(p.baseline, id);
  assert.equal((await store.listRecords()).filter((r) => r.vhost === p.vhost).length, 1, 'exactly one migration was recorded');
});

test('an orphan guarded in another state vhost is neither resumed nor a reason for 409; its own state vhost resumes it', async (t) => {
  const guardedIn = await testVhost(t); // the orphan's lock vhost (and its migrated vhost, empty)
  const other = await testVhost(t); // another sidecar's state vhost
  cleanupRecords(t, [guardedIn, other]);
  const now = new Date();
  const id = newMigrationId(cluster.nodeNames[0], now);
  const record: MigrationRecord = {
    id,
    display_id: displayId(guardedIn, timestamp(now), cluster.nodeNames[0]),
    vhost: guardedIn,
    node: cluster.nodeNames[0],
    started_at: timestamp(now),
    completed_at: null,
    total_queues: 0,
    completed_queues: 0,
    skipped_queues: 0,
    failed_queues: 0,
    status: 'in_progress',
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: startOptions(),
    owner: 'a-dead-sidecar',
    queue_chunks: 0,
    interrupt_requested: false,
    notes: [],
    engine: { started_by: 'guest', lock_vhost: guardedIn },
    updated_at: timestamp(now),
  };
  await store.create(record, []);
  // A dead sidecar also leaves its run marker in its state vhost (only such a migration is resumed).
  await new FenceVault(admin(), testSeal(), guardedIn).markRunning({ migration_id: id, vhost: guardedIn });

  // A sidecar whose state vhost is another one: its lock is free, yet the orphan is not its business.
  const foreign = new MigrationService(engineContext(t, other));
  await foreign.resumeOrphans();
  assert.deepEqual(foreign.running(), []);
  await assert.rejects(foreign.start(other, startOptions(), { user: 'guest', tags: ['administrator'] }), (err: Error & { status?: number }) => {
    assert.equal(err.status, 400, `a start elsewhere is judged on its own merits, not refused 409: ${err.message}`);
    return true;
  });
  assert.equal((await store.loadRecord(id))?.status, 'in_progress');

  // A sidecar of the orphan's own state vhost resumes it (nothing to migrate: it completes).
  const own = new MigrationService(engineContext(t, guardedIn));
  await own.resumeOrphans();
  assert.deepEqual(own.running(), [id]);
  await own.whenFinished(id);
  const after = await store.loadRecord(id);
  assert.equal(after?.status, 'completed');
  assert.ok(after?.notes.some((n) => /resumed by/.test(n)));
});
