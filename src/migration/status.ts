/**
 * The one owner of status transitions: every change of a migration's or a queue's `status` (and
 * of the fields that go with it: error, completed_at, phase) is one of the named functions here.
 * The engine (migration-run.ts, queue-runner.ts, queue-graph.ts) and the service (for the
 * operator's `POST status/:id`) call them; nothing else assigns a status. The vocabulary (status
 * and phase unions, the active and final sets) lives with the records in src/state/records.ts,
 * where the presenters and the reader use it too.
 */
import { InvalidStateError } from '../errors.js';
import { stampAvailability } from './downtime.js';
import {
  isActiveStatus,
  timestamp,
  type MigrationRecord,
  type MigrationStatus,
  type QueueDetail,
  type QueuePhase,
  type QueueRecord,
} from '../state/records.js';

/** Statuses a run ends a migration in. */
export type EndStatus = Extract<MigrationStatus, 'completed' | 'failed' | 'interrupted' | 'rollback_pending'>;

/** The migration still holds the cluster-wide lock (pending or in progress). */
export const isActive = (r: Pick<MigrationRecord, 'status'>): boolean => isActiveStatus(r.status);

// --- queues --------------------------------------------------------------------------------

/** A queue planned for migration (nothing touched yet). */
export function plannedQueue(name: string, vhost: string, messages: number, node: string | null): QueueRecord {
  return {
    name,
    vhost,
    status: 'pending',
    started_at: null,
    completed_at: null,
    total_messages: messages,
    migrated_messages: 0,
    error: null,
    phase: 'pending',
    location: 'classic',
    original: null,
    detail: { node },
  };
}

/** A queue the start's checks left out (skip_unsuitable_queues). */
export function plannedSkip(name: string, vhost: string, reason: string, detail?: string): QueueRecord {
  const extra: QueueDetail = detail ? { error_detail: detail } : {};
  return {
    name,
    vhost,
    status: 'skipped',
    started_at: null,
    completed_at: null,
    total_messages: 0,
    migrated_messages: 0,
    error: reason,
    phase: 'skipped',
    location: reason === 'queue does not exist' ? 'unknown' : 'classic',
    original: null,
    detail: extra,
  };
}

/** The queue's migration starts (or starts again in a resumed run). */
export function markQueueStarted(q: QueueRecord): void {
  q.status = 'in_progress';
  q.started_at ??= timestamp();
  q.error = null;
}

/** The queue enters a phase; `location`: where its messages are from now on. */
export function enterPhase(q: QueueRecord, phase: QueuePhase, location?: QueueRecord['location']): void {
  q.phase = phase;
  stampAvailability(q, phase);
  if (location) q.location = location;
}

/** Verified and done (the `finish` phase is checkpointed after this, then the phase is `done`). */
export function markQueueCompleted(q: QueueRecord): void {
  q.status = 'completed';
  q.completed_at = timestamp();
  q.migrated_messages = q.total_messages;
}

/** Not migrated; `ended`: the queue was looked at (its end time is recorded). */
export function markQueueSkipped(q: QueueRecord, reason: string, ended = false): void {
  q.status = 'skipped';
  q.error = reason;
  q.phase = 'skipped';
  if (ended) q.completed_at = timestamp();
}

export function markQueueFailed(q: QueueRecord, reason: string): void {
  q.status = 'failed';
  q.error = reason;
  q.completed_at = timestamp();
}

/** A queue of a migration was taken back to mirrored classic by the rollback `rollbackId`. */
export function markQueueRolledBack(q: QueueRecord, rollbackId: string): void {
  q.status = 'rollback_completed';
  q.detail.rolled_back_by = rollbackId;
}

/** A failed queue of a migration was finished forward by the repair `repairId`. */
export function markQueueRepaired(q: QueueRecord, repairId: string): void {
  q.status = 'completed';
  q.error = null;
  q.phase = 'done';
  q.location = 'quorum';
  q.detail.repaired_by = repairId;
}

// --- migrations ----------------------------------------------------------------------------

/**
 * Every failed queue of a migration that was waiting for a rollback is repaired (by `repairId`
 * last): nothing is left to roll back, so it is no longer rollback_pending (automation that reads
 * GET rollback-pending must not restore a snapshot over it).
 */
export function markMigrationRepaired(record: MigrationRecord, repairId: string): void {
  if (record.status === 'rollback_pending') record.status = 'completed';
  record.error = null;
  record.notes.push(`every failed queue was finished by the repair ${repairId} at ${timestamp()}`);
  record.updated_at = timestamp();
}

/** Every queue the migration changed is rolled back (by `rollbackId` last). */
export function markMigrationRolledBack(record: MigrationRecord, rollbackId: string): void {
  record.status = 'rollback_completed';
  record.notes.push(`rolled back by ${rollbackId} at ${timestamp()}: every queue it changed is a mirrored classic queue again`);
  record.updated_at = timestamp();
}

/** The migration's counters, from its queues' statuses. */
export function recount(record: MigrationRecord, queues: readonly QueueRecord[]): void {
  let completed = 0;
  let skipped = 0;
  let failed = 0;
  for (const q of queues) {
    if (q.status === 'completed') completed++;
    else if (q.status === 'skipped') skipped++;
    else if (q.status === 'failed') failed++;
  }
  record.completed_queues = completed;
  record.skipped_queues = skipped;
  record.failed_queues = failed;
  record.total_queues = queues.length;
}

/** Another sidecar's migration is resumed by `owner`. */
export function markMigrationResumed(record: MigrationRecord, owner: string): void {
  record.owner = owner;
  record.status = 'in_progress';
  record.paused_reason = null;
}

/** A resource alarm holds the run between queues (alarm-pause.ts). */
export function markMigrationPaused(record: MigrationRecord, reason: string): void {
  record.status = 'paused';
  record.paused_reason = reason;
}

/** The alarm cleared (or the wait ended): the run goes on; a note says how long it waited. */
export function markMigrationUnpaused(record: MigrationRecord, note: string): void {
  if (record.status === 'paused') record.status = 'in_progress';
  record.paused_reason = null;
  record.notes.push(note);
}

/** A scheduled run ends before it ran (cancelled, its checks refused at open, its deadline passed while waiting). */
export function markScheduledEnded(record: MigrationRecord, status: Extract<EndStatus, 'failed' | 'interrupted'>, error: string | null, note: string): void {
  record.status = status;
  record.error = error;
  record.waiting_reason = null;
  record.notes = [...record.notes, note];
  record.completed_at = timestamp();
  record.updated_at = record.completed_at;
}

/** A scheduled run past its not_before that cannot open yet says why (null: the reason is gone). */
export function markScheduledWaiting(record: MigrationRecord, reason: string | null): void {
  record.waiting_reason = reason;
  record.updated_at = timestamp();
}

/** The run's final status. */
export function markMigrationEnded(record: MigrationRecord, status: EndStatus, error: string | null): void {
  record.status = status;
  record.paused_reason = null;
  record.error = error;
  record.completed_at = timestamp();
}

/**
 * The operator marks a rollback done (`POST status/:id`): only from rollback_pending (409
 * otherwise). Answers the new record; `record` itself is left as it is.
 */
export function rollbackCompleted(record: MigrationRecord): MigrationRecord {
  if (record.status !== 'rollback_pending') {
    throw new InvalidStateError(`Migration is ${record.status}; only a rollback_pending migration can be marked rollback_completed`, record.status);
  }
  return { ...record, status: 'rollback_completed', updated_at: timestamp() };
}

/** A record this process holds in memory takes the status that was just stored for it. */
export function takeStoredStatus(live: MigrationRecord, stored: Pick<MigrationRecord, 'status' | 'updated_at'>): void {
  live.status = stored.status;
  live.updated_at = stored.updated_at;
}
