/**
 * Shape checks of a migration record read back from the broker, after its seal verified: qmig
 * serves only what it writes itself. A record whose id differs from its parameter name, whose
 * `started_at` is not qmig's `YYYY-MM-DD HH:MM:SS` (e.g. an ISO `2026-…T…Z`), or whose status
 * or vhost is not one qmig writes, is refused like a forged one (issue 12).
 */
import { MIGRATION_STATUSES, type MigrationRecord } from './records.js';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Why `value` is not a record qmig wrote under `id`, or null when it is. */
export function migrationRecordProblem(value: unknown, id: string): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const r = value as Partial<MigrationRecord>;
  if (r.id !== id) return `id '${String(r.id)}' differs from its parameter name`;
  if (typeof r.vhost !== 'string' || r.vhost === '') return 'no vhost';
  if (r.vhosts !== undefined && (!Array.isArray(r.vhosts) || r.vhosts[0] !== r.vhost || r.vhosts.some((v) => typeof v !== 'string' || v === '')))
    return 'vhosts is not a list of vhost names starting with vhost';
  if (typeof r.started_at !== 'string' || !TIMESTAMP.test(r.started_at))
    return `started_at ${JSON.stringify(r.started_at)} is not in qmig's YYYY-MM-DD HH:MM:SS form`;
  if (r.completed_at != null && (typeof r.completed_at !== 'string' || !TIMESTAMP.test(r.completed_at)))
    return `completed_at ${JSON.stringify(r.completed_at)} is not in qmig's YYYY-MM-DD HH:MM:SS form`;
  if (!(MIGRATION_STATUSES as readonly unknown[]).includes(r.status)) return `status ${JSON.stringify(r.status)} is not one qmig writes`;
  if (typeof r.queue_chunks !== 'number' || !Number.isInteger(r.queue_chunks) || r.queue_chunks < 0 || r.queue_chunks > 100_000)
    return 'queue_chunks is not a count';
  if (!r.engine || typeof r.engine !== 'object') return 'no engine state';
  return null;
}
