/**
 * disk_space: on the tightest running node, the free space above the node's disk alarm limit
 * (`disk_free - disk_free_limit`) must cover Σ message_bytes of the queues to migrate × factor
 * (QMIG_DISK_SAFETY_FACTOR, default 2.0: the messages exist twice while they move) + a fixed
 * margin (QMIG_DISK_MARGIN_MB, default 500 MiB). Every node is judged because quorum queue
 * members are written on all of them. MB in messages are MiB (1048576 bytes); required is
 * rounded up, available down, so the message never claims more room than there is.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { NodeState } from './cluster-snapshot.js';
import { failed, MIB, passed, type SystemCheck } from './types.js';

export interface DiskRequirement {
  message_bytes: number;
  required_bytes: number;
  required_mb: number;
}

export function diskRequirement(queues: BrokerQueue[], factor: number, marginMb: number): DiskRequirement {
  const message_bytes = queues.reduce((sum, q) => sum + (typeof q.message_bytes === 'number' && q.message_bytes > 0 ? q.message_bytes : 0), 0);
  const required_bytes = Math.ceil(message_bytes * factor) + marginMb * MIB;
  return { message_bytes, required_bytes, required_mb: Math.ceil(required_bytes / MIB) };
}

export interface NodeDisk {
  node: string;
  disk_free: number | null;
  disk_free_limit: number | null;
  available_bytes: number | null;
}

export function availableBytes(n: NodeState): number | null {
  if (typeof n.disk_free !== 'number' || typeof n.disk_free_limit !== 'number') return null;
  return n.disk_free - n.disk_free_limit;
}

export function insufficientDiskReason(requiredMb: number, availableMb: number): string {
  return `Insufficient disk space for migration. Required: ${requiredMb}MB, Available: ${availableMb}MB`;
}

export function checkDiskSpace(nodes: NodeState[], toMigrate: BrokerQueue[], factor: number, marginMb: number): SystemCheck {
  const req = diskRequirement(toMigrate, factor, marginMb);
  const per: NodeDisk[] = nodes
    .filter((n) => n.running)
    .map((n) => ({
      node: n.name,
      disk_free: n.disk_free ?? null,
      disk_free_limit: n.disk_free_limit ?? null,
      available_bytes: availableBytes(n),
    }));
  const known = per.filter((p) => p.available_bytes !== null);
  const tightest = known.reduce<NodeDisk | null>((min, p) => (min === null || (p.available_bytes as number) < (min.available_bytes as number) ? p : min), null);
  const available = tightest ? (tightest.available_bytes as number) : 0;
  const availableMb = Math.floor(Math.max(0, available) / MIB);
  const details = {
    queues_to_migrate: toMigrate.length,
    message_bytes: req.message_bytes,
    safety_factor: factor,
    margin_mb: marginMb,
    required_bytes: req.required_bytes,
    required_mb: req.required_mb,
    available_bytes: available,
    available_mb: availableMb,
    tightest_node: tightest?.node ?? null,
    nodes: per,
  };
  const unknown = per.filter((p) => p.available_bytes === null);
  if (unknown.length > 0) {
    return failed('disk_space', `Free disk space unknown on ${unknown.map((p) => p.node).join(', ')} (no statistics yet); retry in a few seconds`, details);
  }
  if (!tightest) return failed('disk_space', 'No running node reported its free disk space', details);
  if (available < req.required_bytes) return failed('disk_space', insufficientDiskReason(req.required_mb, availableMb), details);
  return passed(
    'disk_space',
    `Sufficient disk space available for migration (required: ${req.required_mb}MB, available: ${availableMb}MB on the tightest node ${tightest.node})`,
    details,
  );
}
