/**
 * The durable record of one blue-green drain, stored sealed as the global parameter
 * `qmig.bluegreen.<id>` (drain-store.ts) and written only by the sidecar holding the drain's lock
 * (`qmig.lock.bluegreen.<id>`, the monitor: drain-monitor.ts).
 *
 * The target administrator password is kept ENCRYPTED (state/secret-box.ts, bound to the record's
 * parameter name): a restarted sidecar needs it to read the target's figures and delete the
 * temporary user at the end. The temporary user's password is in the source's shovel parameters
 * only, never here.
 */
import type { SecretBoxValue } from '../state/secret-box.js';

export const DRAIN_STATUSES = ['draining', 'cutting_over', 'completed', 'cancelled', 'failed'] as const;
export type DrainStatus = (typeof DRAIN_STATUSES)[number];
export const ACTIVE_DRAIN_STATUSES: readonly DrainStatus[] = ['draining', 'cutting_over'];
export const isActiveDrain = (s: DrainStatus) => ACTIVE_DRAIN_STATUSES.includes(s);

export type DrainQueueState = 'draining' | 'idle' | 'done' | 'cancelled' | 'failed';
export type LinkState = 'running' | 'starting' | 'terminated' | 'absent';

export interface SideFigures {
  messages: number;
  consumers: number;
}

/** What status/:id shows of one queue (live, or stored at the drain's end). */
export interface DrainQueueFigures {
  source: SideFigures & { publishing: boolean; idle_since: string | null; removed: boolean };
  target: SideFigures;
  link: { state: LinkState; reason: string | null };
}

export interface DrainQueueRecord {
  name: string;
  /** The dynamic shovel of this queue (in the drained vhost of the source). */
  shovel: string;
  state: DrainQueueState;
  /** Since when the source queue is idle (0 messages, 0 consumers but the link, no publish), as the monitor saw it. */
  idle_since: string | null;
  /** The source queue's message_stats.publish at the monitor's last sample (null before the first). */
  publish_count: number | null;
  /** Whether that counter grew between the last two samples. */
  publishing: boolean;
  source_removed: boolean;
  error: string | null;
  /** Figures at the drain's end (what status/:id answers once it ended). */
  final: DrainQueueFigures | null;
}

export interface DrainTotals {
  queues: number;
  idle_queues: number;
  source_messages: number;
  target_messages: number;
}

export interface DrainRecord {
  id: string;
  vhost: string;
  /** The target's management URL, without credentials. */
  target: string;
  target_cluster_name: string;
  target_user: string;
  /** The target user's password, AES-256-GCM (never plaintext). */
  target_password_box: SecretBoxValue;
  target_shovel_user: string;
  status: DrainStatus;
  reason: string;
  who: string;
  /** Node and instance of the sidecar that last held the drain's lock. */
  node: string;
  owner: string;
  started_at: string;
  ended_at: string | null;
  updated_at: string;
  idle_seconds: number;
  remove_source_queues: boolean;
  cutover_requested_at: string | null;
  cancel_requested_at: string | null;
  /** Who asked for the cut-over / cancel. */
  cutover_by: string | null;
  cancelled_by: string | null;
  error: string | null;
  notes: string[];
  /** Figures of the monitor's last sample (the list's totals; frozen at the end). */
  totals: DrainTotals;
  queues: DrainQueueRecord[];
}

export function newDrainQueue(name: string, shovel: string): DrainQueueRecord {
  return { name, shovel, state: 'draining', idle_since: null, publish_count: null, publishing: false, source_removed: false, error: null, final: null };
}

/** A queue the monitor still looks after (not done, cancelled or failed). */
export const isWatched = (q: DrainQueueRecord) => q.state === 'draining' || q.state === 'idle';

/** The list's summary of a record. */
export interface DrainSummary {
  drain_id: string;
  vhost: string;
  target: string;
  status: DrainStatus;
  started_at: string;
  ended_at: string | null;
  queues: number;
  source_messages: number;
  target_messages: number;
}

export function summaryOf(r: DrainRecord): DrainSummary {
  return {
    drain_id: r.id,
    vhost: r.vhost,
    target: r.target,
    status: r.status,
    started_at: r.started_at,
    ended_at: r.ended_at,
    queues: r.queues.length,
    source_messages: r.totals.source_messages,
    target_messages: r.totals.target_messages,
  };
}
