/**
 * The audit lines of a drain (src/state/audit-log.ts): started, cut-over requested, cancel
 * requested, resumed by another sidecar, and its end (completed / cancelled / failed) — who, the
 * vhost, the target (no credentials), the operator's reason and the figures.
 */
import type { AuditEntry } from '../state/audit-log.js';
import type { DrainRecord } from './drain-record.js';

export type AuditFn = (entry: AuditEntry) => unknown;

export type DrainAuditAction =
  | 'bluegreen_drain_started'
  | 'bluegreen_drain_cutover_requested'
  | 'bluegreen_drain_cancel_requested'
  | 'bluegreen_drain_resumed'
  | 'bluegreen_drain_completed'
  | 'bluegreen_drain_cancelled'
  | 'bluegreen_drain_failed';

export function auditDrain(audit: AuditFn, action: DrainAuditAction, record: DrainRecord, who: string, extra: Record<string, unknown> = {}): void {
  audit({
    action,
    migration_id: record.id,
    vhost: record.vhost,
    who,
    details: {
      drain_id: record.id,
      target: record.target,
      target_cluster_name: record.target_cluster_name,
      reason: record.reason,
      status: record.status,
      queues: record.queues.length,
      source_messages: record.totals.source_messages,
      target_messages: record.totals.target_messages,
      ...extra,
    },
  });
}
