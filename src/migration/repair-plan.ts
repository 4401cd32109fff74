/**
 * Which queues a repair of a migration finishes forward (pure): the queues that failed (and that
 * no rollback or earlier repair took over), or the named ones among them. Each is copied with
 * what the migration saved (original, temporary queue, phase) as pending: the run resumes a queue
 * whose phase is past `pending` from what the broker shows (resume.ts), after counting its messages again
 * (`detail.rebaseline`: clients were let back in after the failure).
 */
import { BadRequestError, InvalidStateError } from '../errors.js';
import { kindOf, type MigrationRecord, type QueueRecord } from '../state/records.js';
import { ROLLBACK_FROM } from './rollback-plan.js';

export interface RepairRequest {
  /** Only these queues (null: every failed queue). */
  queue_names: string[] | null;
  /** Why, for the audit log. */
  reason: string | null;
}

/** Failed queues of the migration that nothing took over yet. */
export function repairCandidates(queues: readonly QueueRecord[]): QueueRecord[] {
  return queues.filter((q) => q.status === 'failed' && q.original !== null && typeof q.original === 'object');
}

export function planRepair(migration: MigrationRecord, queues: readonly QueueRecord[], request: RepairRequest): QueueRecord[] {
  if (kindOf(migration) !== 'migration') {
    throw new InvalidStateError(
      `${migration.id} is a ${kindOf(migration)}; repair its migration (${migration.rollback_of ?? migration.repair_of}) or roll that back again instead`,
      migration.status,
    );
  }
  if (!ROLLBACK_FROM.includes(migration.status)) {
    throw new InvalidStateError(`Migration is ${migration.status}; only a migration that has ended can be repaired`, migration.status);
  }
  const candidates = repairCandidates(queues);
  let chosen = candidates;
  if (request.queue_names) {
    const byName = new Set(candidates.map((q) => q.name));
    const unknown = request.queue_names.filter((n) => !byName.has(n));
    if (unknown.length > 0) {
      throw new BadRequestError(
        `not a failed queue of migration ${migration.id}: ${unknown
          .slice(0, 10)
          .map((n) => JSON.stringify(n))
          .join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}`,
      );
    }
    const wanted = new Set(request.queue_names);
    chosen = candidates.filter((q) => wanted.has(q.name));
  }
  if (chosen.length === 0) throw new InvalidStateError(`Nothing to repair: migration ${migration.id} has no failed queue left`, migration.status);
  return chosen.map((q): QueueRecord => ({
    ...structuredClone(q),
    status: 'in_progress',
    started_at: null,
    completed_at: null,
    error: null,
    detail: { ...structuredClone(q.detail), rebaseline: true, verification_notes: [] },
  }));
}
