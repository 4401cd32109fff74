/**
 * Messages that expire while their queue is being migrated: counted, not accepted by a tolerance.
 *
 * What 3.10.8 can and cannot count (measured; ARCHITECTURE.md "Expired messages"):
 * - It has no per-queue "expired" counter: the management API's per-queue `message_stats` hold
 *   publish / deliver / ack rates and totals, /api/overview none for expiry. The node-wide global
 *   counter messages_dead_lettered_expired_total (Prometheus plugin) mixes every queue of the node.
 * - Exact counts are available (passive declare). With clients fenced nothing publishes to or
 *   consumes from the classic, the temporary or the new quorum queue except qmig's move, which
 *   acknowledges a message in its source only once the destination confirmed it (shovel
 *   `on-confirm`, sidecar confirm-then-ack). A message missing then left a queue without being
 *   delivered to anyone: the broker does that for expiry (per-message or queue TTL), and otherwise
 *   only for an administrator's purge or delete. So under the fence the shortfall IS the number
 *   of expired messages, exactly — and it is counted as such only when there is evidence that
 *   messages of this queue can expire: a queue TTL, or an `expiration` seen in the sample taken
 *   when the queue was saved or by the sidecar's own move.
 * - The sidecar's own move (small queues) sees every message it moves: the shortfall splits into
 *   messages that expired before the move reached them (in the source) and messages that expired
 *   in the destination after it confirmed them; the latter can be no more than the moved messages
 *   that carried an expiration (unless a queue TTL applies), else the count is refused.
 *   A shovel reports nothing on 3.10: the total is exact, the split is not known.
 * - Without the fence consumers may have taken the messages: nothing is counted as expired.
 * Both classic and quorum queues on 3.10 expire messages only at the head, and every move
 * republishes a message with its `expiration` as is (its TTL clock starts again).
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { MoveResult } from '../broker/shovels.js';
import { queueTtlMs } from '../checks/expiring-messages.js';
import { describeError } from '../broker/error-description.js';
import type { QueueDetail } from '../state/records.js';
import type { QueueWork } from './queue-work.js';

/** Messages sampled when a queue is saved. */
const SAVE_SAMPLE = 20;

/**
 * At `save`, with clients fenced: the queue's TTL and a sample of its first messages' expirations,
 * kept in the queue's detail as the evidence that its messages can expire. A failed sample is
 * recorded and leaves only the queue TTL (and what the moves see) as evidence.
 */
export async function noteTtl(w: QueueWork, info: BrokerQueue, count: number): Promise<void> {
  const ttl: NonNullable<QueueDetail['ttl']> = { queue_ttl_ms: queueTtlMs(info), sampled: 0, sampled_with_expiration: 0, seen_with_expiration: 0 };
  w.q.detail.ttl = ttl;
  if (count === 0 || !w.clientsFenced) return;
  try {
    const s = await w.actions.sampleExpirations(SAVE_SAMPLE);
    ttl.sampled = s.sampled;
    ttl.sampled_with_expiration = s.expirations.length + s.unreadable;
  } catch (err) {
    ttl.sample_error = describeError(err);
    w.log.warn('could not sample the queue for per-message TTLs; only its queue TTL and what the moves see count as evidence', {
      queue: w.q.name,
      error: ttl.sample_error,
    });
  }
}

export interface ExpiryInput {
  expected: number;
  actual: number;
  fenced: boolean;
  /** A queue TTL applies (every message can expire). */
  queueTtl: boolean;
  /** Messages seen with an expiration so far (save sample, earlier moves), this move's excluded. */
  expirationsSeen: number;
  /** The move just made, when the count follows one. */
  move?: Pick<MoveResult, 'sourceBefore' | 'sourceCount' | 'destinationBefore' | 'destinationCount' | 'seen'>;
  where: string;
}

export type ExpiryVerdict = { expired: number; note: string } | { refused: string } | null;

/** How many of the missing messages expired, and how that is known (pure). Null: none counted. */
export function countExpired(i: ExpiryInput): ExpiryVerdict {
  const missing = i.expected - i.actual;
  if (missing <= 0 || !i.fenced) return null;
  const seen = i.move?.seen;
  const seenNow = seen?.withExpiration ?? 0;
  if (!i.queueTtl && i.expirationsSeen + seenNow === 0) return null;
  if (i.move && seen && typeof i.move.sourceBefore === 'number') {
    const inDestination = i.move.destinationBefore + seen.read - i.move.destinationCount;
    const duringMove = i.move.sourceBefore - seen.read - i.move.sourceCount;
    const before = missing - inDestination - duringMove;
    if (inDestination < 0 || duringMove < 0 || before < 0) {
      return { refused: `the counts do not add up (${missing} missing: ${before} before the move, ${duringMove} during it, ${inDestination} after it)` };
    }
    if (!i.queueTtl && inDestination > seen.withExpiration) {
      return {
        refused: `${inDestination} message(s) left the ${i.where} after it confirmed them, but only ${seen.withExpiration} of the moved messages carried an expiration (no queue TTL): not expiry`,
      };
    }
    const bound = i.queueTtl ? '' : ` (at most the ${seen.withExpiration} moved with an expiration)`;
    return {
      expired: missing,
      note:
        `${missing} message(s) expired, counted exactly (clients fenced, counts exact, the sidecar moved each message itself): ` +
        `${before} before the move reached them, ${duringMove} in the source during the move, ${inDestination} in the ${i.where} after it was confirmed${bound}`,
    };
  }
  const how = i.move
    ? 'a 3.10 shovel does not report what it moved, so whether they expired before or after the move is not known'
    : `they expired in the ${i.where} after it was verified`;
  return {
    expired: missing,
    note: `${missing} message(s) expired, counted from exact counts (clients fenced: only expiry removes messages that qmig did not move); ${how}`,
  };
}

/**
 * Before a count check: the missing messages that expired are recorded (`expired_messages`) and
 * no longer expected; a refusal is noted and the count check then fails on the shortfall.
 */
export function accountExpired(w: QueueWork, expected: number, actual: number, where: string, move?: MoveResult): string | null {
  const d = w.q.detail;
  const ttl = d.ttl;
  const verdict = countExpired({
    expected,
    actual,
    fenced: w.clientsFenced,
    queueTtl: typeof ttl?.queue_ttl_ms === 'number',
    expirationsSeen: (ttl?.sampled_with_expiration ?? 0) + (ttl?.seen_with_expiration ?? 0),
    move,
    where,
  });
  if (ttl && move?.seen) ttl.seen_with_expiration = (ttl.seen_with_expiration ?? 0) + move.seen.withExpiration;
  if (!verdict) return null;
  if ('refused' in verdict) {
    w.log.warn('missing messages not counted as expired', { queue: w.q.name, where, reason: verdict.refused });
    return verdict.refused;
  }
  d.expired_messages = (typeof d.expired_messages === 'number' ? d.expired_messages : 0) + verdict.expired;
  d.expected = expected - verdict.expired;
  const notes = Array.isArray(d.verification_notes) ? d.verification_notes : [];
  notes.push(verdict.note);
  d.verification_notes = notes;
  w.log.info('messages expired during the move; counted', { queue: w.q.name, where, expired: verdict.expired });
  w.audit('messages_expired', { where, expired: verdict.expired, note: verdict.note });
  return null;
}
