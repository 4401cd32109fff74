/**
 * The durable record of one transfer (xfer) of queues to another cluster, as stored in the broker
 * (global runtime parameter `qmig.xfer.<id>`, src/transfer/transfer-store.ts) and as answered by
 * `GET /api/queue-migration/xfer[/:id]` (schemas/xfer-record.json).
 *
 * A record never holds the target's credentials: only the target URL without user information,
 * the AMQP host:port the messages go to (also without credentials) and the target user's name.
 */
export const TRANSFER_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

export const TRANSFER_QUEUE_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled', 'skipped'] as const;
export type TransferQueueStatus = (typeof TRANSFER_QUEUE_STATUSES)[number];

export const ACTIVE_TRANSFER_STATUSES: readonly TransferStatus[] = ['pending', 'in_progress'];
export const FINAL_QUEUE_STATUSES: readonly TransferQueueStatus[] = ['completed', 'failed', 'cancelled', 'skipped'];

/** Exactly one of the three, as the caller gave it. */
export type TransferSelection = { queue_names: string[] } | { pattern: string } | { everything: true };

export interface TransferQueueRecord {
  name: string;
  status: TransferQueueStatus;
  started_at: string | null;
  completed_at: string | null;
  /** Ready messages in the source queue when its move started (exact, AMQP passive declare). */
  expected_messages: number;
  /** Messages the target queue gained during the move (exact, AMQP passive declare on the target). */
  moved_messages: number;
  /** Ready messages still in the source queue when the queue finished (null until then). */
  left_at_source: number | null;
  /** Whether the source queue was deleted (only with remove_source_queue, only after verification). */
  source_removed: boolean;
  /** Name of the dynamic shovel while it runs (its parameter carries the target credentials). */
  shovel: string | null;
  error: string | null;
  /** Things the operator should know that are not errors (e.g. a policy that was not copied). */
  notes: string[];
}

export interface TransferRecord {
  id: string;
  vhost: string;
  /** Management URL of the target (cluster or qmig sidecar), without credentials. */
  target: string;
  /** Where the shovels deliver: `amqp://host:port/<encoded vhost>`, without credentials. */
  target_amqp: string;
  target_cluster_name: string;
  target_user: string;
  /**
   * The temporary user the shovels log in to the target with (src/transfer/shovel-user.ts): never
   * the target administrator. Absent in records written before it existed.
   */
  target_shovel_user?: string | null;
  selection: TransferSelection;
  remove_source_queue: boolean;
  reason: string;
  /** The authenticated caller who asked for the transfer. */
  who: string;
  /** Node of the sidecar that runs it. */
  node: string;
  /** Instance id of the sidecar process running it. */
  owner: string;
  status: TransferStatus;
  started_at: string;
  completed_at: string | null;
  updated_at: string;
  cancel_requested_at: string | null;
  cancelled_by: string | null;
  total_queues: number;
  completed_queues: number;
  failed_queues: number;
  cancelled_queues: number;
  skipped_queues: number;
  expected_messages: number;
  moved_messages: number;
  error: string | null;
  notes: string[];
  queues: TransferQueueRecord[];
}

export type TransferSummary = Omit<TransferRecord, 'queues'>;

/** What a new transfer record is made of; every other field starts empty (pending, no counts). */
export interface NewTransfer {
  id: string;
  vhost: string;
  target: string;
  target_amqp: string;
  target_cluster_name: string;
  target_user: string;
  selection: TransferSelection;
  remove_source_queue: boolean;
  reason: string;
  who: string;
  node: string;
  owner: string;
  queues: TransferQueueRecord[];
  /** The start time (started_at and updated_at). */
  at: string;
}

/** A pending transfer record, fields in the order the API answers them (schemas/xfer-record.json). */
export function newTransferRecord(t: NewTransfer): TransferRecord {
  return {
    id: t.id,
    vhost: t.vhost,
    target: t.target,
    target_amqp: t.target_amqp,
    target_cluster_name: t.target_cluster_name,
    target_user: t.target_user,
    target_shovel_user: null,
    selection: t.selection,
    remove_source_queue: t.remove_source_queue,
    reason: t.reason,
    who: t.who,
    node: t.node,
    owner: t.owner,
    status: 'pending',
    started_at: t.at,
    completed_at: null,
    updated_at: t.at,
    cancel_requested_at: null,
    cancelled_by: null,
    total_queues: 0,
    completed_queues: 0,
    failed_queues: 0,
    cancelled_queues: 0,
    skipped_queues: 0,
    expected_messages: 0,
    moved_messages: 0,
    error: null,
    notes: [],
    queues: t.queues,
  };
}

export function newQueueRecord(name: string, skipReason: string | null = null): TransferQueueRecord {
  return {
    name,
    status: skipReason ? 'skipped' : 'pending',
    started_at: null,
    completed_at: null,
    expected_messages: 0,
    moved_messages: 0,
    left_at_source: null,
    source_removed: false,
    shovel: null,
    error: skipReason,
    notes: [],
  };
}

/** Recomputes the record's counters from its queues. */
export function recount(record: TransferRecord): void {
  const count = (s: TransferQueueStatus) => record.queues.filter((q) => q.status === s).length;
  record.total_queues = record.queues.length;
  record.completed_queues = count('completed');
  record.failed_queues = count('failed');
  record.cancelled_queues = count('cancelled');
  record.skipped_queues = count('skipped');
  record.expected_messages = record.queues.reduce((n, q) => n + q.expected_messages, 0);
  record.moved_messages = record.queues.reduce((n, q) => n + q.moved_messages, 0);
}

/** The final status once no queue is pending or in progress. */
export function finalStatus(record: TransferRecord): TransferStatus {
  if (record.cancel_requested_at) return 'cancelled';
  if (record.queues.some((q) => q.status === 'failed')) return 'failed';
  return 'completed';
}

export function summaryOf(record: TransferRecord): TransferSummary {
  const { queues: _queues, ...summary } = record;
  void _queues;
  return summary;
}
