/**
 * Forged, altered, replayed and deleted state, on the real cluster, written by a user with only
 * the `policymaker` tag (on 3.10 it may write, read and delete any global parameter):
 * - a forged finished migration whose saved fence names the forger: housekeeping restores nothing,
 *   GET status does not list it, `check` fails naming it, the refusal is counted;
 * - a forged active migration of a vhost the forger has no access to: nothing is fenced or
 *   converted; a genuinely sealed but replayed active record is not resumed either;
 * - a rewritten saved-permissions list and a deleted record in the middle of a fence whose sidecar
 *   died: housekeeping puts back exactly what the fence took (from the vault), the forger gains nothing;
 * - forged interrupt and transfer-cancel flags are refused;
 * - records from before sealing, and records with another started_at form, are not served.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { newMigrationId } from '../../src/state/migration-id.js';
import { timestamp } from '../../src/state/records.js';
import { StateSeal } from '../../src/state/state-seal.js';
import { TransferStore } from '../../src/transfer/transfer-store.js';
import { admin } from '../support/cluster.js';
import { migrationRecord, queueRecords } from '../support/migration-records.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { classicQueue } from '../integration/migration-support.js';
import { cleanupParameters, FULL, permissionOf, rejectedCount, tenant, tenantWrites, type After } from './trust-support.js';
import { cancelParameter, chunkParameter, interruptParameter, recordParameter } from '../../src/broker/names.js';

const P = '/api/queue-migration';

async function sidecar(t: After): Promise<TestSidecar> {
  const stateVhost = await testVhost(t);
  return startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
}

async function listedIds(s: TestSidecar): Promise<string[]> {
  const res = await s.api(`${P}/status`);
  const body = await res.json();
  assertSchema('status-list-response', body);
  return body.migrations.map((m: { id: string }) => m.id);
}

async function stateIntegrity(s: TestSidecar, vhost: string): Promise<{ status: string; message: string; details: { refused: Array<{ name: string }> } }> {
  const res = await s.api(`${P}/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const body = await res.json();
  assertSchema('check-response', body);
  const c = body.system_checks.checks.find((x: { check_type: string }) => x.check_type === 'state_integrity');
  assert.ok(c, 'check reports state_integrity');
  return c;
}

test('a forged finished migration whose saved fence names the forger restores nothing, is not listed, and fails check', async (t) => {
  const s = await sidecar(t);
  const own = await testVhost(t);
  const victim = await testVhost(t);
  const pm = await tenant(t, ['policymaker'], { [own]: FULL });
  const names: string[] = [];
  cleanupParameters(t, () => names);
  const variants: Array<[string, (name: string, value: unknown) => unknown]> = [
    ['unsealed (what the review wrote)', (_n, v) => v],
    ['sealed with a guessed key', (n, v) => new StateSeal('guess-guess-guess-guess-guess-guess').seal(n, v)],
    ['a real seal copied from another name', (_n, v) => s.ctx.seal.seal('qmig.migration.some-other-id', v)],
  ];
  for (const [label, forge] of variants) {
    const id = newMigrationId(s.ctx.nodeName);
    const name = recordParameter(id);
    names.push(name);
    const record = migrationRecord(victim, s.ctx.nodeName, {
      id,
      status: 'completed',
      engine: {
        lock_vhost: s.ctx.config.stateVhost,
        fence: { vhost: victim, permissions: [{ user: pm.user, ...FULL }], active: true, fenced_at: timestamp() },
      },
    });
    const before = await rejectedCount('migration');
    await tenantWrites(pm, name, forge(name, record));

    const report = await new Housekeeper(s.ctx, s.engine).runOnce();
    assert.equal(report.ran, true, label);
    assert.equal(await permissionOf(victim, pm.user), null, `${label}: no permission gained on the victim vhost`);
    assert.ok(!report.fencesRestored.includes(id), label);
    assert.ok(!(await listedIds(s)).includes(id), `${label}: GET status does not list it`);
    assert.equal((await s.api(`${P}/status/${id}`)).status, 404, label);
    const check = await stateIntegrity(s, own);
    assert.equal(check.status, 'failed', label);
    assert.ok(
      check.details.refused.some((r) => r.name === name),
      `${label}: check names ${name}: ${check.message}`,
    );
    assert.ok((await rejectedCount('migration')) > before, `${label}: qmig_state_rejected_total{kind="migration"} counts it`);
  }
});

test('a forged active migration of a foreign vhost fences and converts nothing; a replayed sealed one is not resumed either', async (t) => {
  const s = await sidecar(t);
  const own = await testVhost(t);
  const victim = await testVhost(t);
  await classicQueue(victim, 'orders');
  const app = await tenant(t, ['management'], { [victim]: { configure: '^app\\.', write: '.*', read: '.*' } });
  const pm = await tenant(t, ['policymaker'], { [own]: FULL });
  const names: string[] = [];
  cleanupParameters(t, () => names);

  const forgedId = newMigrationId(s.ctx.nodeName);
  const forged = migrationRecord(victim, s.ctx.nodeName, {
    id: forgedId,
    status: 'in_progress',
    queue_chunks: 1,
    queue_chunk_size: 25,
    engine: { lock_vhost: s.ctx.config.stateVhost },
  });
  const queues = queueRecords(victim, 1).map((q) => ({ ...q, name: 'orders', status: 'pending' as const, phase: 'pending', location: 'classic' as const }));
  names.push(recordParameter(forgedId), chunkParameter(forgedId, 0));
  await tenantWrites(pm, recordParameter(forgedId), forged);
  await tenantWrites(pm, chunkParameter(forgedId, 0), queues);

  // A record the sidecars once sealed, replayed as active (its run marker is long gone).
  const replayId = newMigrationId(s.ctx.nodeName);
  const replayName = recordParameter(replayId);
  names.push(replayName, chunkParameter(replayId, 0));
  const replay = migrationRecord(victim, s.ctx.nodeName, {
    id: replayId,
    status: 'in_progress',
    queue_chunks: 1,
    queue_chunk_size: 25,
    engine: { lock_vhost: s.ctx.config.stateVhost },
  });
  await tenantWrites(pm, replayName, s.ctx.seal.seal(replayName, replay));
  await tenantWrites(pm, chunkParameter(replayId, 0), s.ctx.seal.seal(chunkParameter(replayId, 0), queues));

  await s.engine.resumeOrphans();
  await new Housekeeper(s.ctx, s.engine).runOnce();
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(
    await permissionOf(victim, app.user),
    { user: app.user, vhost: victim, configure: '^app\\.', write: '.*', read: '.*' },
    'the victim vhost is not fenced',
  );
  const q = await admin().queue(victim, 'orders');
  assert.equal(q?.type, 'classic', 'the queue is not converted');
  assert.equal(await s.ctx.vault.runMarker(forgedId), null);
  assert.equal(await s.ctx.vault.runMarker(replayId), null);
  assert.ok(!(await listedIds(s)).includes(forgedId), 'the forged record is not listed');
  // Still in place for an administrator to inspect.
  assert.ok(await admin().globalParameter(recordParameter(forgedId)));
});

test('mid-fence, the sidecar gone: a rewritten saved-permissions list or a deleted record leaves nobody without access and gives the forger nothing', async (t) => {
  const s = await sidecar(t);
  const own = await testVhost(t);
  for (const attack of ['rewrite', 'delete'] as const) {
    const victim = await testVhost(t);
    const appPerm = { configure: '^app\\.', write: '^amq\\.direct$', read: '^(app|q)' };
    const app = await tenant(t, ['management'], { [victim]: appPerm });
    const pm = await tenant(t, ['policymaker'], { [own]: FULL });
    const id = newMigrationId(s.ctx.nodeName);
    cleanupParameters(t, () => [recordParameter(id), chunkParameter(id, 0)]);
    // What a sidecar leaves when it dies mid-fence: run marker and saved permission in the vault,
    // the permission revoked, the (sealed) active record with its informative copy of the fence.
    await s.ctx.vault.markRunning({ migration_id: id, vhost: victim });
    await s.ctx.vault.save({ migration_id: id, vhost: victim, user: app.user, ...appPerm });
    await admin().deletePermission(victim, app.user);
    const record = migrationRecord(victim, s.ctx.nodeName, {
      id,
      status: 'in_progress',
      owner: 'a-dead-sidecar',
      engine: {
        lock_vhost: s.ctx.config.stateVhost,
        fence: { vhost: victim, permissions: [{ user: app.user, ...appPerm }], active: true, fenced_at: timestamp() },
      },
    });
    await s.ctx.store.create(record, []);

    const name = recordParameter(id);
    if (attack === 'rewrite') {
      const stored = (await pm.mgmt.globalParameter<{ qmig_seal: 1; mac: string; data: typeof record }>(name))!.value;
      (stored.data.engine.fence as { permissions: unknown[] }).permissions.push({ user: pm.user, ...FULL });
      await tenantWrites(pm, name, stored);
    } else {
      const res = await pm.mgmt.request('DELETE', `/global-parameters/${encodeURIComponent(name)}`);
      assert.equal(res.status, 204, 'a policymaker may delete global parameters on 3.10');
    }

    await new Housekeeper(s.ctx, s.engine).runOnce();
    assert.deepEqual(
      await permissionOf(victim, app.user),
      { user: app.user, vhost: victim, ...appPerm },
      `${attack}: the application user has exactly its permission back`,
    );
    assert.equal(await permissionOf(victim, pm.user), null, `${attack}: the forger gained nothing`);
    assert.deepEqual(await s.ctx.vault.entries(id), [], `${attack}: the vault entry is gone once restored`);
    assert.equal(await s.ctx.vault.runMarker(id), null, `${attack}: the run marker is gone`);
  }
});

test('forged interrupt and transfer-cancel flags are refused and counted', async (t) => {
  const s = await sidecar(t);
  const own = await testVhost(t);
  const pm = await tenant(t, ['policymaker'], { [own]: FULL });
  const id = newMigrationId(s.ctx.nodeName);
  const xferId = newMigrationId(s.ctx.nodeName);
  cleanupParameters(t, () => [interruptParameter(id), cancelParameter(xferId)]);
  const interrupts = await rejectedCount('interrupt');
  const cancels = await rejectedCount('transfer_cancel');
  await tenantWrites(pm, interruptParameter(id), { requested_by: 'guest', requested_at: timestamp() });
  await tenantWrites(pm, cancelParameter(xferId), { by: 'guest', requested_at: timestamp() });
  assert.equal(await s.ctx.store.params.get('interrupt', interruptParameter(id)), null);
  assert.equal(await new TransferStore(s.ctx.mgmt, s.ctx.seal).cancelRequest(xferId), null);
  assert.equal(await rejectedCount('interrupt'), interrupts + 1);
  assert.equal(await rejectedCount('transfer_cancel'), cancels + 1);
  // What a sidecar writes verifies.
  await s.ctx.store.params.put(interruptParameter(id), { requested_by: 'guest', requested_at: timestamp() });
  assert.ok(await s.ctx.store.params.get('interrupt', interruptParameter(id)));
});

test('records from before sealing and records with another started_at form are not served; what the sidecars write is', async (t) => {
  const s = await sidecar(t);
  const vhost = await testVhost(t);
  const old = migrationRecord(vhost, s.ctx.nodeName, { status: 'completed' });
  const iso = migrationRecord(vhost, s.ctx.nodeName, { status: 'completed' });
  iso.started_at = '2026-01-02T03:04:05Z';
  const good = migrationRecord(vhost, s.ctx.nodeName, { status: 'completed' });
  cleanupParameters(t, () => [old, iso, good].map((r) => recordParameter(r.id)));
  await admin().putGlobalParameter(recordParameter(old.id), old); // as qmig wrote it before
  await s.ctx.store.saveRecord(iso); // sealed, but not a form qmig writes
  await s.ctx.store.saveRecord(good);
  const ids = await listedIds(s);
  assert.ok(ids.includes(good.id));
  assert.ok(!ids.includes(old.id), 'a record from before sealing is not listed');
  assert.ok(!ids.includes(iso.id), 'an ISO started_at is not served');
  assert.equal((await s.api(`${P}/status/${iso.id}`)).status, 404);
  assert.equal((await s.api(`${P}/status/${good.id}`)).status, 200);
  const check = await stateIntegrity(s, vhost);
  assert.equal(check.status, 'failed');
  const refused = check.details.refused.map((r) => r.name);
  assert.ok(refused.includes(recordParameter(old.id)) && refused.includes(recordParameter(iso.id)), JSON.stringify(refused));
  assert.ok(!refused.includes(recordParameter(good.id)));
});
