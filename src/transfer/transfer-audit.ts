/**
 * The audit records of a transfer (src/state/audit-log.ts): started, cancel requested, each queue
 * that reaches an end (completed, failed, cancelled) and finished — who, what (vhost/queue),
 * where (target, no credentials), why (the reason) and the counts.
 */
import type { AuditEntry } from '../state/audit-log.js';
import type { TransferQueueRecord, TransferRecord } from './transfer-record.js';

export type AuditFn = (entry: AuditEntry) => unknown;

export function auditStarted(audit: AuditFn, record: TransferRecord): void {
  audit({
    action: 'xfer_started',
    migration_id: record.id,
    vhost: record.vhost,
    who: record.who,
    details: {
      transfer_id: record.id,
      target: record.target,
      target_amqp: record.target_amqp,
      reason: record.reason,
      selection: record.selection,
      remove_source_queue: record.remove_source_queue,
      queues: record.total_queues,
    },
  });
}

export function auditCancelRequested(audit: AuditFn, record: TransferRecord, who: string): void {
  audit({ action: 'xfer_cancel_requested', migration_id: record.id, vhost: record.vhost, who, details: { transfer_id: record.id } });
}

export function auditQueue(audit: AuditFn, record: TransferRecord, q: TransferQueueRecord): void {
  audit({
    action: 'xfer_queue',
    migration_id: record.id,
    queue: q.name,
    vhost: record.vhost,
    who: record.who,
    details: {
      transfer_id: record.id,
      status: q.status,
      target: record.target,
      target_amqp: record.target_amqp,
      reason: record.reason,
      expected_messages: q.expected_messages,
      moved_messages: q.moved_messages,
      left_at_source: q.left_at_source,
      source_removed: q.source_removed,
      error: q.error,
    },
  });
}

export function auditFinished(audit: AuditFn, record: TransferRecord): void {
  audit({
    action: 'xfer_finished',
    migration_id: record.id,
    vhost: record.vhost,
    who: record.who,
    details: {
      transfer_id: record.id,
      status: record.status,
      target: record.target,
      reason: record.reason,
      completed_queues: record.completed_queues,
      failed_queues: record.failed_queues,
      cancelled_queues: record.cancelled_queues,
      skipped_queues: record.skipped_queues,
      expected_messages: record.expected_messages,
      moved_messages: record.moved_messages,
    },
  });
}
