/**
 * The durable records of a migration, as stored in the broker (src/state/migration-store.ts)
 * and as answered by the HTTP API (src/state/presenters.ts turns them into the spec's shapes).
 */
export const MIGRATION_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'interrupted', 'rollback_pending', 'rollback_completed'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

export const QUEUE_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'skipped', 'rollback_completed'] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];

/** Statuses in which a migration still owns the cluster-wide lock. */
export const ACTIVE_STATUSES: readonly MigrationStatus[] = ['pending', 'in_progress'];

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
}

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
  phase: string;
  /** Where the messages are right now: the classic queue, the temporary queue or the final quorum queue. */
  location: 'classic' | 'temporary' | 'quorum' | 'unknown';
  original: OriginalQueue | null;
  /** Engine-owned per-queue details (temporary queue name, shovel name, verification notes). */
  detail: Record<string, unknown>;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as the spec writes timestamps. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

export function progressPercentage(done: number, total: number, finished: boolean): number {
  if (total <= 0) return finished ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}
