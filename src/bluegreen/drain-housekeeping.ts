/**
 * Drain shovels that no active drain explains (`qmig-bg-…` in any vhost of the source, with no
 * active drain record naming them: a record deleted, forged or that ended without its clean-up)
 * are deleted on each housekeeping tick. Each holds the password of a temporary target user in its
 * dest-uri, readable by the vhost's policymakers. Deleting one loses nothing: its ack mode is
 * on-confirm, so messages it had not acknowledged return to the source queue.
 */
import type { ManagementClient } from '../broker/management-client.js';
import { DRAIN_SHOVEL_PREFIX } from '../broker/names.js';
import { isActiveDrain } from './drain-record.js';
import type { DrainStore } from './drain-store.js';

/** Deletes the drain shovels no active drain names; returns `vhost/name` of each. */
export async function deleteStaleDrainShovels(mgmt: ManagementClient, store: DrainStore): Promise<string[]> {
  const params = await mgmt.shovelParameters();
  const candidates = params.filter((p) => p.name.startsWith(DRAIN_SHOVEL_PREFIX));
  if (candidates.length === 0) return [];
  const active = (await store.list()).filter((r) => isActiveDrain(r.status));
  const explained = new Set(active.flatMap((r) => r.queues.map((q) => `${r.vhost}\u0000${q.shovel}`)));
  const deleted: string[] = [];
  for (const p of candidates) {
    if (explained.has(`${p.vhost}\u0000${p.name}`)) continue;
    await mgmt.deleteShovel(p.vhost, p.name);
    deleted.push(`${p.vhost}/${p.name}`);
  }
  return deleted;
}
