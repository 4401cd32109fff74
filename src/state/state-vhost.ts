/**
 * QMIG_STATE_VHOST holds the lock queues and the fence vault, so nobody but the sidecars'
 * service account may use it: a user with permissions there could squat a lock, or read and
 * re-declare vault entries. At start-up the sidecar creates it when missing (with permissions
 * for the service account only) and verifies that nobody else has any; `check` verifies again
 * (src/checks/state-integrity.ts) and fails naming the users that do.
 */
import type { ManagementClient } from '../broker/management-client.js';
import { logger } from '../logging.js';

/** Creates the vhost (and the service account's permission) when missing. */
export async function ensureStateVhost(mgmt: ManagementClient, vhost: string, serviceUser: string): Promise<void> {
  if (!(await mgmt.vhost(vhost))) {
    await mgmt.putVhost(vhost, { description: 'qmig: lock queues and fence vault; only the qmig service account may have permissions here' });
    logger.info('state vhost created', { vhost });
  }
  if (!(await mgmt.permission(vhost, serviceUser))) await mgmt.setPermission(vhost, serviceUser, { configure: '.*', write: '.*', read: '.*' });
}

/** Users other than the service account that have a permission on the state vhost. */
export async function stateVhostIntruders(mgmt: ManagementClient, vhost: string, serviceUser: string): Promise<string[]> {
  const perms = await mgmt.vhostPermissions(vhost);
  return perms
    .map((p) => p.user)
    .filter((u) => u !== serviceUser)
    .sort();
}

/** Start-up: prepare and verify; problems are logged (and reported by `check`), not fatal. */
export async function verifyStateVhostAtStart(mgmt: ManagementClient, vhost: string, serviceUser: string): Promise<void> {
  try {
    await ensureStateVhost(mgmt, vhost, serviceUser);
    const intruders = await stateVhostIntruders(mgmt, vhost, serviceUser);
    if (intruders.length > 0) {
      logger.error(
        'QMIG_STATE_VHOST grants permissions to users other than the service account: they could squat its locks; `check` fails until they are removed',
        {
          vhost,
          users: intruders,
        },
      );
    }
  } catch (err) {
    logger.error('cannot verify the state vhost at start-up', { vhost, error: (err as Error).message });
  }
}
