/**
 * Durable records → the shapes of ../shared/spec/HTTP_API.md (schemas/migration-record.json,
 * migration-detail.json, queue-status.json). Internal fields (options, owner, engine state,
 * saved queue definitions) never leave the sidecar; a few extra fields useful to operators do
 * (node, failed_queues, notes; per queue: phase, location).
 */
import {
  isFinalStatus,
  kindOf,
  progressPercentage,
  vhostsOf,
  type MigrationRecord,
  type MigrationStatus,
  type QueueRecord,
  type Snapshot,
} from '../state/records.js';
import { downtimeOf, queueUnavailableSeconds } from '../migration/downtime.js';

export interface MigrationView {
  id: string;
  display_id: string;
  vhost: string;
  node: string;
  started_at: string;
  completed_at: string | null;
  total_queues: number;
  completed_queues: number;
  skipped_queues: number;
  failed_queues: number;
  progress_percentage: number;
  status: MigrationStatus;
  skip_unsuitable_queues: boolean;
  tolerance: number | null;
  error: string | null;
  notes: string[];
  /** qmig: a rollback or a repair, and the migration it follows up. */
  kind?: 'rollback' | 'repair';
  rollback_of?: string;
  repair_of?: string;
  /** qmig: the rollbacks and repairs of this migration. */
  rollbacks?: string[];
  repairs?: string[];
  /** qmig: while paused, the alarms that hold the run. */
  paused_reason?: string;
  /** qmig: a run over several vhosts, in order (the first is `vhost`). */
  vhosts?: string[];
  not_before?: string;
  waiting_reason?: string;
  /** qmig: the plan's estimate made at start, and the run's actual duration so far (or in all, once ended). */
  estimate?: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string };
  actual_seconds?: number;
  /** qmig: seconds each vhost's clients were fenced (so far). */
  fenced_seconds?: Record<string, number>;
}

export interface MigrationDetailView extends MigrationView {
  snapshots: Snapshot[];
}

export interface QueueView {
  resource: { name: string; vhost: string };
  status: QueueRecord['status'];
  started_at: string | null;
  completed_at: string | null;
  total_messages: number;
  migrated_messages: number;
  progress_percentage: number;
  error: string | null;
  /** What a bare `error` token stands for (skipped unsuitable queues). */
  error_detail?: string;
  /** Messages that expired during the migration, counted by the verification. */
  expired_messages?: number;
  phase: QueueRecord['phase'] | 'unknown';
  location: QueueRecord['location'];
  rolled_back_by?: string;
  repaired_by?: string;
  mirroring_policy?: { policy: string | null; mirrored: boolean };
  /** qmig: seconds its messages were out of its consumers' reach (so far). */
  unavailable_seconds?: number;
}

const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

export function presentMigration(r: MigrationRecord): MigrationView {
  const total = count(r.total_queues);
  const completed = count(r.completed_queues);
  const skipped = count(r.skipped_queues);
  const failed = count(r.failed_queues);
  return {
    id: r.id,
    display_id: r.display_id,
    vhost: r.vhost,
    node: r.node,
    started_at: r.started_at,
    completed_at: r.completed_at ?? null,
    total_queues: total,
    completed_queues: completed,
    skipped_queues: skipped,
    failed_queues: failed,
    // Share of the queues that are done with, whichever way (completed, skipped or failed).
    progress_percentage: progressPercentage(completed + skipped + failed, total, isFinalStatus(r.status)),
    status: r.status,
    skip_unsuitable_queues: r.skip_unsuitable_queues,
    tolerance: r.tolerance ?? null,
    error: r.error ?? null,
    notes: Array.isArray(r.notes) ? r.notes : [],
    ...(kindOf(r) !== 'migration' ? { kind: kindOf(r) as 'rollback' | 'repair' } : {}),
    ...(typeof r.rollback_of === 'string' ? { rollback_of: r.rollback_of } : {}),
    ...(typeof r.repair_of === 'string' ? { repair_of: r.repair_of } : {}),
    ...idList('rollbacks', r.rollbacks),
    ...idList('repairs', r.repairs),
    ...(r.status === 'paused' && typeof r.paused_reason === 'string' ? { paused_reason: r.paused_reason } : {}),
    ...(vhostsOf(r).length > 1 ? { vhosts: vhostsOf(r) } : {}),
    ...(typeof r.options?.not_before === 'string' ? { not_before: r.options.not_before } : {}),
    ...(r.status === 'scheduled' && typeof r.waiting_reason === 'string' && r.waiting_reason ? { waiting_reason: r.waiting_reason } : {}),
    ...estimateOf(r),
    ...fencedOf(r),
  };
}

/** qmig: seconds each vhost's clients were fenced (client downtime; migration/downtime.ts). */
function fencedOf(r: MigrationRecord): Pick<MigrationView, 'fenced_seconds'> {
  if (!Array.isArray(r.fence_periods) || r.fence_periods.length === 0) return {};
  return { fenced_seconds: downtimeOf(r, []).fenced_seconds };
}

/** The estimate recorded at start beside the actual duration (ended: start → completed_at; running: so far). */
function estimateOf(r: MigrationRecord): Pick<MigrationView, 'estimate' | 'actual_seconds'> {
  const e = r.estimate;
  if (!e || typeof e !== 'object' || typeof e.seconds !== 'number') return {};
  // Records' times are UTC `YYYY-MM-DD HH:MM:SS` (state/records.ts timestamp).
  const utc = (t: string) => Date.parse(`${t.replace(' ', 'T')}Z`);
  const start = utc(r.started_at);
  const end = r.completed_at ? utc(r.completed_at) : Date.now();
  const actual = Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, Math.round((end - start) / 100) / 10) : undefined;
  return {
    estimate: { seconds: e.seconds, low_seconds: e.low_seconds, high_seconds: e.high_seconds, calibrated_at: e.calibrated_at },
    ...(actual !== undefined ? { actual_seconds: actual } : {}),
  };
}

export function presentMigrationDetail(r: MigrationRecord): MigrationDetailView {
  return { ...presentMigration(r), snapshots: Array.isArray(r.snapshots) ? r.snapshots : [] };
}

export function presentQueue(q: QueueRecord): QueueView {
  const total = count(q.total_messages);
  const migrated = count(q.migrated_messages);
  return {
    resource: { name: q.name, vhost: q.vhost },
    status: q.status,
    started_at: q.started_at ?? null,
    completed_at: q.completed_at ?? null,
    total_messages: total,
    migrated_messages: migrated,
    progress_percentage: q.status === 'completed' ? 100 : progressPercentage(migrated, total, false),
    error: q.error ?? null,
    ...(typeof q.detail?.error_detail === 'string' ? { error_detail: q.detail.error_detail } : {}),
    ...(count(q.detail?.expired_messages) > 0 ? { expired_messages: count(q.detail?.expired_messages) } : {}),
    phase: q.phase ?? 'unknown',
    location: q.location ?? 'unknown',
    ...(typeof q.detail?.rolled_back_by === 'string' ? { rolled_back_by: q.detail.rolled_back_by } : {}),
    ...(typeof q.detail?.repaired_by === 'string' ? { repaired_by: q.detail.repaired_by } : {}),
    ...(mirroringOf(q.detail?.mirroring_policy) ?? {}),
    ...unavailableOf(q),
  };
}

/** qmig: how long the queue's messages were out of its consumers' reach (migration/downtime.ts). */
function unavailableOf(q: QueueRecord): Pick<QueueView, 'unavailable_seconds'> {
  const s = queueUnavailableSeconds(q);
  return s === null ? {} : { unavailable_seconds: s };
}

function mirroringOf(m: unknown): { mirroring_policy: { policy: string | null; mirrored: boolean } } | null {
  if (!m || typeof m !== 'object') return null;
  const { policy, mirrored } = m as { policy?: unknown; mirrored?: unknown };
  if (typeof mirrored !== 'boolean' || (policy !== null && typeof policy !== 'string')) return null;
  return { mirroring_policy: { policy, mirrored } };
}

/** `{ [key]: ids }` when the record lists any (follow-up runs), else nothing. */
function idList<K extends 'rollbacks' | 'repairs'>(key: K, ids: unknown): Partial<Record<K, string[]>> {
  if (!Array.isArray(ids)) return {};
  const list = ids.filter((x): x is string => typeof x === 'string');
  return list.length > 0 ? ({ [key]: list } as Partial<Record<K, string[]>>) : {};
}
