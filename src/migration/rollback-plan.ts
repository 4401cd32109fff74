/**
 * Which queues a rollback of a migration takes back to mirrored classic (pure). A rollback is a
 * run of its own (own id, status, interrupt, resume) linked to the migration it undoes; it covers
 * the queues the migration changed (their classic queue was saved: `original`) that no earlier
 * rollback took back, or the named ones among them.
 */
import { BadRequestError, InvalidStateError } from '../errors.js';
import { kindOf, type MigrationRecord, type MigrationStatus, type QueueRecord } from '../state/records.js';
import { plannedQueue } from './status.js';

export interface RollbackRequest {
  /** Only these queues (null: every queue the migration changed). */
  queue_names: string[] | null;
  /** Tolerance of the count checks (null: exact, or the migration's own). */
  tolerance: number | null;
  /** Why, for the audit log. */
  reason: string | null;
}

/** Statuses of a migration that may be rolled back (it has ended). */
export const ROLLBACK_FROM: readonly MigrationStatus[] = ['completed', 'failed', 'interrupted', 'rollback_pending'];

/** The queues the migration changed that are not rolled back yet. */
export function rollbackCandidates(queues: readonly QueueRecord[]): QueueRecord[] {
  return queues.filter((q) => q.original !== null && typeof q.original === 'object' && q.status !== 'rollback_completed' && q.status !== 'pending');
}

/** The rollback's queue records, or why there is none (400 / 409). */
export function planRollback(migration: MigrationRecord, queues: readonly QueueRecord[], request: RollbackRequest): QueueRecord[] {
  if (kindOf(migration) === 'rollback') {
    throw new InvalidStateError(`${migration.id} is a rollback; to move its queues to quorum again, start a migration`, migration.status);
  }
  if (!ROLLBACK_FROM.includes(migration.status)) {
    throw new InvalidStateError(
      `Migration is ${migration.status}; only a completed, failed, interrupted or rollback_pending migration can be rolled back`,
      migration.status,
    );
  }
  const candidates = rollbackCandidates(queues);
  let chosen = candidates;
  if (request.queue_names) {
    const byName = new Map(candidates.map((q) => [q.name, q]));
    const unknown = request.queue_names.filter((n) => !byName.has(n));
    if (unknown.length > 0) {
      throw new BadRequestError(
        `not changed by migration ${migration.id} or already rolled back: ${unknown
          .slice(0, 10)
          .map((n) => JSON.stringify(n))
          .join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}`,
      );
    }
    const wanted = new Set(request.queue_names);
    chosen = candidates.filter((q) => wanted.has(q.name));
  }
  if (chosen.length === 0)
    throw new InvalidStateError(`Nothing to roll back: migration ${migration.id} changed no queue that is not rolled back yet`, migration.status);
  return chosen.map((q) => rollbackQueue(migration.id, q));
}

function rollbackQueue(migrationId: string, q: QueueRecord): QueueRecord {
  const o = q.original!;
  const planned = plannedQueue(q.name, q.vhost, q.total_messages, o.node);
  planned.location = q.location;
  planned.detail.restore = {
    migration_id: migrationId,
    arguments: o.arguments ?? {},
    node: o.node ?? null,
    auto_delete: o.auto_delete === true,
    policy: o.policy ?? null,
  };
  // The migration's temporary queue (a failed queue may have left messages there).
  if (typeof q.detail.temporary_queue === 'string') planned.detail.temporary_queue = q.detail.temporary_queue;
  return planned;
}
