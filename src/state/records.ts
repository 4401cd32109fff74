/**
 * The durable records of a migration, as stored in the broker (src/state/migration-store.ts)
 * and as answered by the HTTP API (src/http/presenters.ts turns them into the spec's shapes).
 */
export const MIGRATION_STATUSES = [
  'scheduled',
  'pending',
  'in_progress',
  'paused',
  'completed',
  'failed',
  'interrupted',
  'rollback_pending',
  'rollback_completed',
] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

export const QUEUE_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'skipped', 'rollback_completed'] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];

/**
 * `scheduled` (start with `not_before`): waiting for its window to open; neither active (it holds
 * no lock and blocks no start) nor final (src/migration/schedule.ts decides what becomes of it).
 */
export const isScheduledStatus = (s: string): boolean => s === 'scheduled';
/** Statuses in which a migration still owns the cluster-wide lock (`paused`: waiting for a resource alarm to clear). */
export const ACTIVE_STATUSES: readonly MigrationStatus[] = ['pending', 'in_progress', 'paused'];
/** Statuses after which the engine no longer writes the migration or its queues. */
export const FINAL_STATUSES: readonly MigrationStatus[] = ['completed', 'failed', 'interrupted', 'rollback_pending', 'rollback_completed'];
/** Statuses of a queue the engine is done with. */
export const FINAL_QUEUE_STATUSES: readonly QueueStatus[] = ['completed', 'failed', 'skipped', 'rollback_completed'];

export const isActiveStatus = (s: string): boolean => (ACTIVE_STATUSES as readonly string[]).includes(s);
export const isFinalStatus = (s: string): boolean => (FINAL_STATUSES as readonly string[]).includes(s);
export const isFinalQueueStatus = (s: string): boolean => (FINAL_QUEUE_STATUSES as readonly string[]).includes(s);

/**
 * The steps of one queue's migration, in the order of the step graph (src/migration/queue-graph.ts,
 * which must give each one its step function). A queue's `phase` is one of them, or an idle phase.
 */
export const QUEUE_STEPS = [
  'save',
  'empty_fast_path',
  'declare_temporary',
  'move_to_temporary',
  'delete_classic',
  'declare_quorum',
  'move_to_quorum',
  'delete_temporary',
  'finish',
] as const;
export type QueueStep = (typeof QUEUE_STEPS)[number];
/** Phases of a queue that is not in a step: not started, skipped, or done. */
export const IDLE_PHASES = ['pending', 'skipped', 'done'] as const;
/**
 * A rollback (quorum → mirrored classic) walks the same step graph; the steps named after the
 * queue types are recorded under these names instead (src/migration/queue-work.ts phaseOf).
 */
export const ROLLBACK_PHASE_NAMES = { delete_classic: 'delete_quorum', declare_quorum: 'declare_classic', move_to_quorum: 'move_to_classic' } as const;
export type RollbackPhase = (typeof ROLLBACK_PHASE_NAMES)[keyof typeof ROLLBACK_PHASE_NAMES];
export type QueuePhase = QueueStep | RollbackPhase | (typeof IDLE_PHASES)[number];

/**
 * A forward migration (mirrored classic → quorum), the rollback of one (quorum → mirrored
 * classic), or the repair of one (its failed queues finished forward).
 */
export type MigrationKind = 'migration' | 'rollback' | 'repair';
/** The kind of a record (absent in records of forward migrations written before rollbacks existed). */
export const kindOf = (r: Pick<MigrationRecord, 'kind'>): MigrationKind => (r.kind === 'rollback' || r.kind === 'repair' ? r.kind : 'migration');

export interface Snapshot {
  node: string;
  snapshot_id: string;
  volume_id: string;
}

export type BatchOrder = 'smallest_first' | 'largest_first';

/** The start request, after validation and defaults. */
export interface MigrationOptions {
  skip_unsuitable_queues: boolean;
  /** As requested; null when the caller did not set one (defaults then apply). */
  tolerance: number | null;
  batch_size: number | 'all';
  batch_order: BatchOrder;
  queue_names: string[] | null;
  allow_message_ttl: boolean;
  set_default_queue_type: 'quorum' | 'classic' | null;
  /** qmig: ISO time after which no queue starts (the window closes); absent: none. */
  deadline?: string | null;
  /** qmig: ISO time before which the run does not open (a scheduled run); absent: starts at once. */
  not_before?: string | null;
}

export interface MigrationRecord {
  id: string;
  display_id: string;
  vhost: string;
  /** Node of the sidecar that coordinates the migration. */
  node: string;
  started_at: string;
  completed_at: string | null;
  total_queues: number;
  completed_queues: number;
  skipped_queues: number;
  failed_queues: number;
  status: MigrationStatus;
  skip_unsuitable_queues: boolean;
  tolerance: number | null;
  error: string | null;
  snapshots: Snapshot[];
  options: MigrationOptions;
  /** Instance id of the sidecar running it (changes when another sidecar resumes it). */
  owner: string;
  /** Number of queue chunks stored beside the record. */
  queue_chunks: number;
  /** Queues per chunk (absent in records from before it varied: 200). */
  queue_chunk_size?: number;
  interrupt_requested: boolean;
  /** Anything the operator should know that is not an error (e.g. default queue type unchanged). */
  notes: string[];
  /** Engine-owned durable state (client fencing, etc.). */
  engine: Record<string, unknown>;
  updated_at: string;
  /** 'rollback': this run takes the queues of `rollback_of` back to mirrored classic. Absent: a migration. */
  kind?: MigrationKind;
  /** The migration this rollback undoes. */
  rollback_of?: string;
  /** Rollbacks started for this migration, oldest first. */
  rollbacks?: string[];
  /** 'repair': the migration whose failed queues this run finishes. */
  repair_of?: string;
  /** Repairs started for this migration, oldest first. */
  repairs?: string[];
  /** While `paused`: why (the alarms that hold it, e.g. "disk alarm on rabbit@a"). */
  paused_reason?: string | null;
  /**
   * qmig: a run over several vhosts (POST start-many), in the order they are migrated, one
   * fenced at a time; `vhost` is the first of them. Absent: the run is over `vhost` alone.
   */
  vhosts?: string[];
  /** A scheduled run: when it was scheduled (`YYYY-MM-DD HH:MM:SS`; started_at becomes the open time). */
  scheduled_at?: string | null;
  /** While `scheduled` past its not_before: why it has not opened yet (e.g. another run holds the lock). */
  waiting_reason?: string | null;
  /** qmig: when each vhost's clients were fenced (ISO, ms; migration/downtime.ts). */
  fence_periods?: { vhost: string; from: string; to?: string }[];
  /** qmig: the plan's estimate at start (migration/planner.ts); absent when none was made. */
  estimate?: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string } | null;
}

/** Every vhost a run covers, in order (see MigrationRecord.vhosts). */
export const vhostsOf = (r: Pick<MigrationRecord, 'vhost' | 'vhosts'>): string[] => (Array.isArray(r.vhosts) && r.vhosts.length > 0 ? r.vhosts : [r.vhost]);

/** What was saved about a queue before anything touched it. */
export interface OriginalQueue {
  durable: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
  bindings: Array<{ source: string; routing_key: string; arguments: Record<string, unknown> }>;
  policy: string | null;
  effective_policy_definition: Record<string, unknown> | null;
  node: string | null;
  message_count: number;
  message_bytes: number;
}

export interface QueueRecord {
  name: string;
  vhost: string;
  status: QueueStatus;
  started_at: string | null;
  completed_at: string | null;
  total_messages: number;
  migrated_messages: number;
  error: string | null;
  /** Engine phase reached, for resume after a crash. */
  phase: QueuePhase;
  /** Where the messages are right now: the classic queue, the temporary queue or the final quorum queue. */
  location: 'classic' | 'temporary' | 'quorum' | 'unknown';
  original: OriginalQueue | null;
  /** Engine-owned per-queue details (temporary queue name, shovel name, verification notes). */
  detail: QueueDetail;
}

/**
 * What the engine keeps about a queue beside its status (stored as is, in `detail`). Every key is
 * optional: a queue gets them as its steps go; readers still check a value's type (a record read
 * back from the broker is only as good as the sidecar that wrote it).
 */
export interface QueueDetail {
  /** Node of the queue when the migration was planned (before `original` is saved). */
  node?: string | null;
  /** What a bare `error` token stands for (queues skipped as unsuitable). */
  error_detail?: string;
  temporary_queue?: string;
  /** Replicas of the temporary queue: min(3, nodes running when the run began) (migration/queue-work.ts temporaryReplicas). */
  temporary_replicas?: number;
  consumers_at_start?: number;
  /** Arguments that quorum queues do not take. */
  dropped_arguments?: string[];
  /** Messages the queue must end with, once stragglers were adopted (else original.message_count). */
  expected?: number;
  /** When its messages were out of its consumers' reach (ISO, ms): migration/downtime.ts. */
  unavailable?: { from: string; to?: string };
  /** Rounds of "new messages appeared, move them too". */
  straggler_rounds?: number;
  /** Messages that reappeared while clients were fenced (broker redeliveries). */
  redelivered_messages?: number;
  copy_removal_rounds?: number;
  copies_removed?: number;
  /** Copies cannot be told apart from messages identical before: no more removal rounds. */
  copies_indistinct?: boolean;
  /** Shovel of the move in progress. */
  shovel?: string;
  surplus_in_temporary?: number;
  verified_temporary?: { expected: number; actual: number };
  verified_quorum?: { expected: number; actual: number };
  excess_messages?: number;
  /** Messages that expired during the migration, counted (migration/expiry-accounting.ts). */
  expired_messages?: number;
  /** The evidence that this queue's messages can expire: its queue TTL, the sample taken at save, what the moves saw. */
  ttl?: { queue_ttl_ms: number | null; sampled: number; sampled_with_expiration: number; seen_with_expiration: number; sample_error?: string };
  verification_notes?: string[];
  gathered_after_failure?: { from: string; into: string; count: number };
  /** Rollback: the classic queue to declare again, as the forward migration saved it. */
  restore?: RestoreTarget;
  /** Rollback: the policy that applies to the classic queue now, and whether it mirrors it. */
  mirroring_policy?: { policy: string | null; mirrored: boolean };
  /** Forward migration: the rollback that took this queue back to mirrored classic. */
  rolled_back_by?: string;
  /** Forward migration: the repair that finished this failed queue. */
  repaired_by?: string;
  /**
   * Repair: count the messages again (queue + temporary queue) before going on — clients were let
   * back in after the failure, so the migration's saved count no longer holds.
   */
  rebaseline?: boolean;
}

/** What a rollback declares the classic queue with (from the forward run's OriginalQueue). */
export interface RestoreTarget {
  migration_id: string;
  arguments: Record<string, unknown>;
  /** The node the classic queue's master was on. */
  node: string | null;
  auto_delete: boolean;
  /** The policy that applied to it before (by name). */
  policy: string | null;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as the spec writes timestamps. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

export function progressPercentage(done: number, total: number, finished: boolean): number {
  if (total <= 0) return finished ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}
