/**
 * A sidecar SIGKILLed at each point of a migration, then a sidecar started again (`qmig serve`,
 * the production path: it resumes orphans at start) → the migration completes (or would end
 * rollback_pending truthfully), and the full integrity check holds: every message where the
 * record says, identical to before; permissions and limits restored; no shovel and no temporary
 * queue that the record does not name.
 * Points: during validation (lock held, no record), after the lock (record saved, nothing
 * touched), during client fencing (one of two permissions revoked), in phase 1 / between the
 * phases / in phase 2 (three queues at once), during the restore of the clients (one of two
 * permissions put back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin } from '../support/cluster.js';
import { assertIntegrity, surroundings } from '../support/integrity.js';
import { assertSchema } from '../support/schemas.js';
import { spawnSidecar } from '../support/sidecar.js';
import { apiJson, prepareVhost, reliabilityEnv, spawnHangSidecar, waitLockFree, waitTerminal, type PreparedVhost } from './reliability-support.js';
import { testSeal } from '../support/state-secret.js';

const store = new MigrationStore(admin(), testSeal());
const startUrl = (base: string, vhost: string) => `${base}/api/queue-migration/start/${encodeURIComponent(vhost)}`;

/** Records are cluster-wide: remove the ones of this test's vhost. */
function cleanupRecords(t: { after(fn: () => unknown): void }, vhost: string): void {
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) {
      if (r.vhost !== vhost) continue;
      await store.delete(r).catch(() => undefined);
      await admin()
        .deleteGlobalParameter(`qmig.interrupt.${r.id}`)
        .catch(() => undefined);
    }
  });
}

/** Kill the hung sidecar, wait for its lock to die, start a `qmig serve` that resumes, wait for the end. */
async function killAndResume(t: { after(fn: () => unknown): void }, p: PreparedVhost, hang: { kill(): Promise<void> }, id: string) {
  await hang.kill();
  await waitLockFree(p.vhost);
  const orphan = await store.loadRecord(id);
  assert.equal(orphan?.status, 'in_progress', 'the killed sidecar left its migration in progress');
  const sidecar = await spawnSidecar(t, { env: reliabilityEnv(p.vhost) });
  const detail = await waitTerminal(sidecar.url, id);
  assertSchema('status-detail-response', detail);
  const result = await assertIntegrity(p.baseline, id);
  assert.ok(
    result.record.notes.some((n) => /resumed by/.test(n)),
    'the record says it was resumed',
  );
  assert.equal(result.record.engine.lock_vhost, p.vhost);
  await sidecar.kill('SIGTERM');
  return result;
}

test('SIGKILL during validation (lock held, no record yet): nothing changed; a restarted sidecar migrates', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 400, node: 1 },
    { name: 'q-empty', messages: 0, node: 2 },
  ]);
  cleanupRecords(t, p.vhost);
  const hang = await spawnHangSidecar(t, reliabilityEnv(p.vhost), [{ at: 'point:validating' }]);
  const pending = apiJson(startUrl(hang.url, p.vhost), 'POST', {}).catch((e: Error) => e);
  await hang.waitForHang();
  await hang.kill();
  assert.ok((await pending) instanceof Error, 'the start request died with its sidecar');
  await waitLockFree(p.vhost);

  assert.deepEqual(
    (await store.listRecords()).filter((r) => r.vhost === p.vhost),
    [],
    'no record was written',
  );
  for (const q of ['q-a', 'q-empty']) assert.notEqual((await admin().queue(p.vhost, q))?.type, 'quorum');
  assert.deepEqual(await surroundings(p.vhost, p.baseline.users), p.baseline.surroundings);

  const sidecar = await spawnSidecar(t, { env: reliabilityEnv(p.vhost) });
  const started = await apiJson(startUrl(sidecar.url, p.vhost), 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assertSchema('start-response', started.body);
  await waitTerminal(sidecar.url, started.body.migration_id);
  await assertIntegrity(p.baseline, started.body.migration_id);
});

test('SIGKILL after the lock (record saved, nothing touched yet): resumed to completion', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 500, node: 0 },
    { name: 'q-b', messages: 300, node: 2 },
  ]);
  cleanupRecords(t, p.vhost);
  const hang = await spawnHangSidecar(t, reliabilityEnv(p.vhost), [{ at: 'point:before_fence' }]);
  const started = await apiJson(startUrl(hang.url, p.vhost), 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await hang.waitForHang();
  // Nothing touched yet: clients still in, queues still classic.
  assert.deepEqual(await surroundings(p.vhost, p.baseline.users), p.baseline.surroundings);
  await killAndResume(t, p, hang, started.body.migration_id);
});

test('SIGKILL during client fencing (one of two permissions revoked): both come back after the resumed migration', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 500, node: 1 },
    { name: 'q-b', messages: 200, node: 0 },
  ]);
  cleanupRecords(t, p.vhost);
  const hang = await spawnHangSidecar(t, reliabilityEnv(p.vhost), [{ at: 'point:fence_revoked', nth: 1 }]);
  const started = await apiJson(startUrl(hang.url, p.vhost), 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await hang.waitForHang();
  const perms = (await surroundings(p.vhost, [])).permissions.map((x) => x.user);
  const app = p.users.map((u) => u.user);
  assert.equal(app.filter((u) => perms.includes(u)).length, 1, 'exactly one application permission revoked when killed');
  const record = await store.loadRecord(started.body.migration_id);
  const fence = record?.engine.fence as { active: boolean; permissions: Array<{ user: string }> };
  assert.equal(fence.active, true);
  assert.deepEqual(fence.permissions.map((x) => x.user).sort(), [...app].sort(), 'the saved plan names both users before anything was revoked');
  await killAndResume(t, p, hang, started.body.migration_id);
});

test('SIGKILL in phase 1, between the phases and in phase 2 (three queues at once): resumed, nothing lost', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'in-phase-1', messages: 1500, node: 0 },
    { name: 'between-phases', messages: 800, node: 1 },
    { name: 'in-phase-2', messages: 1200, node: 2 },
    { name: 'bystander', messages: 50, node: 1 },
  ]);
  cleanupRecords(t, p.vhost);
  const hang = await spawnHangSidecar(t, reliabilityEnv(p.vhost, { QMIG_MIGRATION_CONCURRENCY: '4' }), [
    { at: 'shovel:to-temporary', queue: 'in-phase-1' },
    { at: 'step:declare_quorum', queue: 'between-phases' },
    { at: 'shovel:to-quorum', queue: 'in-phase-2' },
  ]);
  const started = await apiJson(startUrl(hang.url, p.vhost), 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await hang.waitForHang(3);
  // While it hangs the clients are fenced out.
  for (const u of p.users) assert.equal(await admin().permission(p.vhost, u.user), null);
  assert.equal(await admin().queue(p.vhost, 'between-phases'), null, 'the classic queue was deleted before the kill');
  const { queues } = await killAndResume(t, p, hang, started.body.migration_id);
  for (const q of queues) assert.equal(q.status, 'completed', q.name);
});

test('SIGKILL while the clients are let back in (one of two permissions restored): resumed, both restored', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 300, node: 2 },
    { name: 'q-b', messages: 0, node: 0 },
  ]);
  cleanupRecords(t, p.vhost);
  const hang = await spawnHangSidecar(t, reliabilityEnv(p.vhost), [{ at: 'point:permission_restored', nth: 1 }]);
  const started = await apiJson(startUrl(hang.url, p.vhost), 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  await hang.waitForHang();
  const perms = (await surroundings(p.vhost, [])).permissions.map((x) => x.user);
  assert.equal(p.users.filter((u) => perms.includes(u.user)).length, 1, 'exactly one application permission restored when killed');
  await killAndResume(t, p, hang, started.body.migration_id);
});
