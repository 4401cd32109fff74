/**
 * Housekeeping of transfers on the SOURCE cluster (called by src/migration/housekeeping.ts each
 * tick): shovel definitions `qmig-xfer-<id>-…` that no active transfer explains are deleted. They
 * are what a sidecar that died mid-transfer leaves behind, and each holds in its dest-uri the
 * password of the transfer's temporary target user (shovel-user.ts), readable by policymakers of
 * the vhost. Deleting one loses nothing: its ack mode is on-confirm, so messages it had not
 * acknowledged return to the source queue.
 */
import { enc, type ManagementClient } from '../broker/management-client.js';
import { ACTIVE_TRANSFER_STATUSES } from './transfer-record.js';
import type { TransferStore } from './transfer-store.js';
import { TRANSFER_SHOVEL_PREFIX, transferShovelName } from '../broker/names.js';

/** Deletes the transfer shovels of transfers that are not active; returns `vhost/name` of each. */
export async function deleteStaleTransferShovels(mgmt: ManagementClient, store: TransferStore): Promise<string[]> {
  const params = await mgmt.ok<Array<{ vhost: string; name: string }>>('GET', '/parameters/shovel');
  const candidates = params.filter((p) => p.name.startsWith(TRANSFER_SHOVEL_PREFIX));
  if (candidates.length === 0) return [];
  const active = (await store.list()).filter((r) => ACTIVE_TRANSFER_STATUSES.includes(r.status));
  // transferShovelName(id, i, round) = qmig-xfer-<id tail>-i-round: the part before `-i-round` names the transfer.
  const activePrefixes = active.map((r) => transferShovelName(r.id, 0, 0).replace(/0-0$/, ''));
  const deleted: string[] = [];
  for (const p of candidates) {
    if (activePrefixes.some((prefix) => p.name.startsWith(prefix))) continue;
    await mgmt.deleteIfExists(`/parameters/shovel/${enc(p.vhost)}/${enc(p.name)}`);
    deleted.push(`${p.vhost}/${p.name}`);
  }
  return deleted;
}
