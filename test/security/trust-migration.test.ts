/**
 * A real migration attacked while its clients are fenced, on the real cluster: a policymaker with
 * no access to the migrated vhost rewrites the record's saved-permissions list to name itself and
 * writes an interrupt flag for the migration. The migration runs to completion (the forged flag
 * is refused), every application user gets exactly its permissions back from the vault, no
 * message is lost, and the forger has no permission on the vhost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { timestamp } from '../../src/state/records.js';
import { assertIntegrity } from '../support/integrity.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { cleanupRecords } from '../integration/migration-support.js';
import { apiJson, prepareVhost, reliabilityEnv, waitTerminal } from '../reliability/reliability-support.js';
import { cleanupParameters, FULL, permissionOf, rejectedCount, tenant, tenantWrites } from './trust-support.js';
import { interruptParameter, recordParameter } from '../../src/broker/names.js';

test('mid-fence, a rewritten saved-permissions list and a forged interrupt flag change nothing: the migration completes, permissions come back exactly', async (t) => {
  const p = await prepareVhost(t, [
    { name: 'q-a', messages: 200, node: 0 },
    { name: 'q-b', messages: 50, node: 1 },
    { name: 'q-c', messages: 0, node: 2 },
  ]);
  const stateVhost = await testVhost(t);
  const own = await testVhost(t);
  const pm = await tenant(t, ['policymaker'], { [own]: FULL });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  t.after(() => release());
  let fenced!: (id: string) => void;
  const fencedAt = new Promise<string>((r) => (fenced = r));
  const s = await startTestSidecar(t, {
    env: reliabilityEnv(p.vhost, { QMIG_STATE_VHOST: stateVhost, QMIG_MIGRATION_CONCURRENCY: '1' }),
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          atPoint: async ({ migrationId, point }) => {
            if (point !== 'fence_revoked' || !migrationId) return;
            fenced(migrationId);
            await gate;
          },
        },
      }),
  });
  let id = '';
  cleanupRecords(
    t,
    () => s.ctx,
    () => (id ? [id] : []),
  );
  cleanupParameters(t, () => (id ? [interruptParameter(id)] : []));
  const started = await apiJson(`${s.url}/api/queue-migration/start/${enc(p.vhost)}`, 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  id = started.body.migration_id;
  assert.equal(await fencedAt, id);

  // The attack, while the first permission is revoked.
  const name = recordParameter(id);
  const stored = (await pm.mgmt.globalParameter<{ qmig_seal: 1; mac: string; data: { engine: { fence: { permissions: unknown[] } } } }>(name))!.value;
  stored.data.engine.fence.permissions.push({ user: pm.user, ...FULL });
  await tenantWrites(pm, name, stored);
  const before = await rejectedCount('interrupt');
  await tenantWrites(pm, interruptParameter(id), { requested_by: 'guest', requested_at: timestamp() });
  release();

  const done = await waitTerminal(s.url, id);
  assert.equal(done.migration.status, 'completed', 'the forged interrupt flag did not stop the migration');
  assert.ok((await rejectedCount('interrupt')) > before, 'the forged flag was refused and counted');
  assert.equal(await permissionOf(p.vhost, pm.user), null, 'the forger gained no permission');
  // Exact permissions (and limits) of every application user, every message, every binding.
  await assertIntegrity(p.baseline, id);
  assert.deepEqual(await s.ctx.vault.entries(id), [], 'the vault is empty once every permission is back');
  assert.equal(await s.ctx.vault.runMarker(id), null);
});
