/**
 * Putting clients back, only ever from the fence vault (src/state/fence-vault.ts): exactly the
 * permissions the engine saved there before revoking them, never what a record in a global
 * parameter says. Each vault entry is removed once its permission is back (or its user is gone),
 * so a restore can be repeated safely and a replayed record finds nothing to restore.
 */
import { restore, type FenceEvents, type RestoreOutcome } from '../broker/client-fence.js';
import { enc, type ManagementClient } from '../broker/management-client.js';
import type { FenceVault } from '../state/fence-vault.js';

export async function restoreFromVault(
  mgmt: ManagementClient,
  vault: FenceVault,
  migrationId: string,
  vhost: string,
  events: FenceEvents = {},
): Promise<RestoreOutcome> {
  const saved = (await vault.entries(migrationId)).filter((e) => e.vhost === vhost);
  const outcome = await restore(
    mgmt,
    { vhost, permissions: saved.map(({ user, configure, write, read }) => ({ user, configure, write, read })) },
    {
      restored: async (user) => {
        await vault.remove(migrationId, user);
        return events.restored?.(user);
      },
    },
  );
  for (const f of outcome.failed) {
    // A user deleted meanwhile has nothing to restore: its entry goes too (else retried forever).
    if ((await mgmt.getOrNull(`/users/${enc(f.user)}`)) === null) await vault.remove(migrationId, f.user);
  }
  return outcome;
}

/** Saves every permission of `permissions` in the vault (before any of them is revoked). */
export async function saveToVault(
  vault: FenceVault,
  migrationId: string,
  vhost: string,
  permissions: Array<{ user: string; configure: string; write: string; read: string }>,
): Promise<void> {
  for (const p of permissions) await vault.save({ migration_id: migrationId, vhost, user: p.user, configure: p.configure, write: p.write, read: p.read });
}
