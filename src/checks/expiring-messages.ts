/**
 * expiring_messages: how many messages would expire while their queue is being migrated.
 * Never blocks (passed or warning): an expired message is counted by the verification
 * (src/migration/expiry-accounting.ts), not taken for a lost one; the warning tells the operator
 * how many messages to expect in `expired_messages` and which queues they are in.
 *
 * Gathered (I/O, bounded): for each mirrored classic queue to migrate that holds messages and has
 * no consumer, a sample of its first messages (src/broker/message-sample.ts) — at most
 * SAMPLED_MESSAGES per queue, the MAX_SAMPLED_QUEUES largest queues, a few at a time. A queue with
 * consumers is not sampled (a sample could reorder what they receive) and is judged on its queue
 * TTL only.
 * Judged (pure): per queue, the effective TTL of a message is the lowest of its `expiration` and
 * the queue's TTL (x-message-ttl argument, policy or operator policy message-ttl: the lower one
 * applies, as in the broker). The estimate (a documented model, meant to be replaced by a
 * calibrated one: see MoveDurationModel):
 *   - a queue's move takes `estimateMoveMs`: from the start of the migration until its messages
 *     are in the quorum queue — its turn (the queues before it, `concurrency` at a time) plus two
 *     moves of its own (each a fixed set-up plus its messages at a fixed rate);
 *   - a message whose TTL is t expires during a move of D ms with probability min(1, D / t): its
 *     remaining life is taken as uniform over (0, t] (messages arriving at a steady rate); a
 *     message without TTL never expires;
 *   - the queue's estimate is its message count × the mean of that probability over the sample
 *     (over every message, at the queue TTL, when it was not sampled), rounded to the nearest
 *     whole message (an expected value: a queue whose TTL dwarfs its move shows 0).
 * Facts it states (measured on 3.10.8): classic and quorum queues expire messages only at the
 * head (a message with a short TTL behind one without waits); a move republishes each message
 * with its `expiration` as is, so its TTL clock starts again in the temporary queue and again in
 * the quorum queue (a message can live up to three times its TTL across a migration); the
 * temporary queue has no queue TTL.
 */
import type { BrokerQueue, ManagementClient } from '../broker/management-client.js';
import { sampleExpirations, type ExpirationSample } from '../broker/message-sample.js';
import { describeError } from '../broker/error-description.js';
import { mapAtMost } from '../async/concurrency.js';
import { passed, warning, type SystemCheck } from './types.js';

/** Messages sampled per queue. */
export const SAMPLED_MESSAGES = 20;
/** Queues sampled per check (the largest ones); the others are judged on their queue TTL. */
export const MAX_SAMPLED_QUEUES = 100;
const SAMPLES_AT_ONCE = 4;

/** What was learnt about one queue's messages (absent from the map: not sampled). */
export type QueueSample = ExpirationSample | { error: string };

export interface ExpirySamples {
  samples: Map<string, QueueSample>;
  /** Queues left out, and why (consumers, beyond the sample limit). */
  notSampled: Map<string, string>;
}

/** The queue's TTL in ms (the lower of argument and effective policy), or null when none applies. */
export function queueTtlMs(q: Pick<BrokerQueue, 'arguments' | 'effective_policy_definition'>): number | null {
  const values = [q.arguments?.['x-message-ttl'], q.effective_policy_definition?.['message-ttl']]
    .map((v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null))
    .filter((v): v is number => v !== null);
  return values.length > 0 ? Math.min(...values) : null;
}

/** Samples the queues to migrate that hold messages and have no consumer (I/O, bounded). */
export async function gatherExpirySamples(mgmt: ManagementClient, vhost: string, queues: BrokerQueue[]): Promise<ExpirySamples> {
  const notSampled = new Map<string, string>();
  const eligible: BrokerQueue[] = [];
  for (const q of queues) {
    if ((q.messages ?? 0) <= 0) continue;
    if ((q.consumers ?? 0) > 0) notSampled.set(q.name, `${q.consumers} consumer(s): a sample could reorder what they receive`);
    else eligible.push(q);
  }
  eligible.sort((a, b) => (b.messages ?? 0) - (a.messages ?? 0));
  for (const q of eligible.slice(MAX_SAMPLED_QUEUES)) notSampled.set(q.name, `only the ${MAX_SAMPLED_QUEUES} largest queues are sampled`);
  const chosen = eligible.slice(0, MAX_SAMPLED_QUEUES);
  const results = await mapAtMost(SAMPLES_AT_ONCE, chosen, async (q): Promise<QueueSample> => {
    try {
      return await sampleExpirations(mgmt, vhost, q.name, SAMPLED_MESSAGES);
    } catch (err) {
      return { error: describeError(err) };
    }
  });
  return { samples: new Map(chosen.map((q, i) => [q.name, results[i]])), notSampled };
}

/**
 * How long a queue's migration takes, from the start of the run until its messages are in the
 * quorum queue. The default is a plain model; a calibrated one can be passed instead.
 */
export interface MoveDurationModel {
  /** Fixed cost of one move (declare, shovel set-up and removal, verification), ms. */
  moveOverheadMs: number;
  /** Messages moved per second by one move. */
  messagesPerSecond: number;
  /** Queues migrated at once (QMIG_MIGRATION_CONCURRENCY). */
  concurrency: number;
}

/** Measured order of magnitude on 3.10.8 (broker/NOTES: shovels move 8–15k msg/s here). */
export const DEFAULT_MOVE_MODEL: Omit<MoveDurationModel, 'concurrency'> = { moveOverheadMs: 1000, messagesPerSecond: 5000 };

/** A queue's own migration time: two moves. */
export function ownMoveMs(messages: number, m: MoveDurationModel): number {
  return 2 * (m.moveOverheadMs + (Math.max(0, messages) / Math.max(1, m.messagesPerSecond)) * 1000);
}

/** Per queue, in order of migration: its turn (earlier queues' time shared by the workers) plus its own time. */
export function estimateMoveMs(queues: Array<{ name: string; messages: number }>, m: MoveDurationModel): Map<string, number> {
  const out = new Map<string, number>();
  let before = 0;
  const workers = Math.max(1, m.concurrency);
  queues.forEach((q, i) => {
    const own = ownMoveMs(q.messages, m);
    // The first `workers` queues start at once; later ones wait for a share of what came before.
    out.set(q.name, Math.round((i < workers ? 0 : before / workers) + own));
    before += own;
  });
  return out;
}

/** Probability that a message with TTL `ttl` ms expires within `durationMs` (uniform remaining life). */
export function expiryProbability(ttl: number | null, durationMs: number): number {
  if (ttl === null) return 0;
  if (ttl <= 0) return 1;
  return Math.min(1, durationMs / ttl);
}

export interface ExpiringQueue {
  queue: string;
  messages: number;
  queue_ttl_ms: number | null;
  sampled: number;
  sampled_with_expiration: number;
  /** Lowest effective TTL seen (message or queue), ms. */
  min_ttl_ms: number | null;
  estimated_move_ms: number;
  estimated_expiring: number;
  /** Why the estimate rests on the queue TTL only. */
  not_sampled?: string;
}

/** One queue's estimate (pure). */
export function estimateQueue(q: BrokerQueue, sample: QueueSample | undefined, notSampled: string | undefined, durationMs: number): ExpiringQueue {
  const messages = Math.max(0, q.messages ?? 0);
  const queueTtl = queueTtlMs(q);
  const effective = (t: number | null) => (t === null ? queueTtl : queueTtl === null ? t : Math.min(t, queueTtl));
  const base: ExpiringQueue = {
    queue: q.name,
    messages,
    queue_ttl_ms: queueTtl,
    sampled: 0,
    sampled_with_expiration: 0,
    min_ttl_ms: queueTtl,
    estimated_move_ms: durationMs,
    estimated_expiring: 0,
  };
  if (!sample || 'error' in sample || sample.sampled === 0) {
    const why = sample && 'error' in sample ? `sample failed: ${sample.error}` : notSampled;
    return {
      ...base,
      estimated_expiring: Math.round(messages * expiryProbability(queueTtl, durationMs)),
      ...(why && messages > 0 ? { not_sampled: why } : {}),
    };
  }
  const ttls = [...sample.expirations.map((e) => effective(e)), ...Array<number | null>(sample.sampled - sample.expirations.length).fill(queueTtl)];
  const mean = ttls.reduce<number>((s, t) => s + expiryProbability(t, durationMs), 0) / sample.sampled;
  const seen = ttls.filter((t): t is number => t !== null);
  return {
    ...base,
    sampled: sample.sampled,
    sampled_with_expiration: sample.expirations.length,
    min_ttl_ms: seen.length > 0 ? Math.min(...seen) : null,
    estimated_expiring: Math.min(messages, Math.round(messages * mean)),
  };
}

export const TTL_FACTS =
  'Expired messages are counted by the verification (expired_messages in status), not taken for lost ones. ' +
  'Each move republishes a message with its expiration as is, so its TTL clock starts again in the temporary and in the quorum queue.';

/** The check over the queues to migrate, in their order of migration (pure). */
export function judgeExpiringMessages(queues: BrokerQueue[], gathered: ExpirySamples | null, model: MoveDurationModel): SystemCheck {
  const durations = estimateMoveMs(
    queues.map((q) => ({ name: q.name, messages: Math.max(0, q.messages ?? 0) })),
    model,
  );
  const estimates = queues.map((q) =>
    estimateQueue(q, gathered?.samples.get(q.name), gathered ? gathered.notSampled.get(q.name) : 'not sampled', durations.get(q.name) ?? 0),
  );
  const expiring = estimates.filter((e) => e.estimated_expiring > 0);
  const withTtl = estimates.filter((e) => e.queue_ttl_ms !== null || e.sampled_with_expiration > 0);
  const total = expiring.reduce((s, e) => s + e.estimated_expiring, 0);
  const details = {
    queues_with_ttl: withTtl.length,
    estimated_expiring_messages: total,
    queues: withTtl.concat(estimates.filter((e) => e.not_sampled && !withTtl.includes(e))),
    model: { ...model, estimate: 'messages × mean over the sample of min(1, move time / TTL)' },
  };
  if (expiring.length === 0) {
    const note = withTtl.length > 0 ? ` (${withTtl.length} queue(s) hold messages with a TTL longer than their estimated move)` : '';
    return passed('expiring_messages', `No message is expected to expire during the migration${note}`, details);
  }
  const shown = expiring
    .slice(0, 10)
    .map((e) => `'${e.queue}' ≈${e.estimated_expiring} of ${e.messages} (TTL from ${e.min_ttl_ms} ms, move ≈${Math.ceil(e.estimated_move_ms / 1000)} s)`)
    .join(', ');
  return warning(
    'expiring_messages',
    `About ${total} message(s) in ${expiring.length} queue(s) may expire during the migration: ${shown}${expiring.length > 10 ? ', …' : ''}. ${TTL_FACTS}`,
    details,
  );
}
