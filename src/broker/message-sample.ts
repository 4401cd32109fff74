/**
 * A bounded, non-destructive look at the head of a queue: how many of its first messages carry a
 * per-message TTL (the AMQP `expiration` property) and what it is. Used by the expiring_messages
 * check (src/checks/expiring-messages.ts) and by the engine when it saves a queue.
 *
 * How: the management API's `POST /api/queues/{vh}/{q}/get` with `ackmode: ack_requeue_true`
 * (measured on 3.10.8): the broker takes up to `count` messages with basic.get and hands them
 * back with a requeue, which puts a classic queue's messages back in their original places —
 * nothing is lost and the order is unchanged. `truncate` keeps the payload out of the answer (the
 * broker still reads it, the sidecar never holds it); the answer's size is capped as well.
 *
 * The one trace it leaves: the sampled messages are delivered next with `redelivered = true`.
 * That is why the check samples only queues with no consumer (a consumer could also receive the
 * messages behind the sampled ones before they are handed back: a reordering it would see);
 * during a migration clients are fenced, and the move republishes every message, which clears
 * the flag anyway. A basic.get on the sidecar's own channel would do the same and mark the same
 * flag; the management call needs no AMQP connection per vhost and bounds what comes back.
 *
 * Everything in the answer is untrusted (anyone who may write to the vhost chooses it): only the
 * `expiration` string is read, and only when it is a plain decimal integer of at most 10 digits.
 */
import { TransportError } from './call-policy.js';
import { enc, type ManagementClient } from './management-client.js';

/** Most messages one sample takes (the request's `count` is clamped to this). */
export const MAX_SAMPLE_MESSAGES = 100;
/** Largest answer accepted for one sample (headers are not truncated by the broker). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface ExpirationSample {
  /** Messages looked at (at most the count asked for; fewer when the queue holds fewer). */
  sampled: number;
  /** Per-message TTL of each sampled message carrying a readable one, in milliseconds. */
  expirations: number[];
  /** Sampled messages whose `expiration` was present but not a readable TTL. */
  unreadable: number;
}

/**
 * The per-message TTL an `expiration` property stands for, or null when it is absent or not a
 * plain non-negative integer (RabbitMQ refuses anything else at publish time; a stored value is
 * still read defensively).
 */
export function parseExpiration(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) return null;
  return Number(value);
}

/** The expirations of answered messages (pure: the answer is whatever the broker sent). */
export function readSample(answer: unknown): ExpirationSample {
  const out: ExpirationSample = { sampled: 0, expirations: [], unreadable: 0 };
  if (!Array.isArray(answer)) return out;
  for (const m of answer.slice(0, MAX_SAMPLE_MESSAGES)) {
    out.sampled++;
    const props = m && typeof m === 'object' ? (m as { properties?: unknown }).properties : undefined;
    const raw = props && typeof props === 'object' ? (props as Record<string, unknown>).expiration : undefined;
    if (raw === undefined) continue;
    const ttl = parseExpiration(raw);
    if (ttl === null) out.unreadable++;
    else out.expirations.push(ttl);
  }
  return out;
}

/** Samples the first `count` messages of `queue` and hands them back in place. */
export async function sampleExpirations(mgmt: ManagementClient, vhost: string, queue: string, count: number): Promise<ExpirationSample> {
  const n = Math.max(1, Math.min(MAX_SAMPLE_MESSAGES, Math.floor(count)));
  let answer: unknown;
  try {
    answer = await mgmt.ok<unknown>(
      'POST',
      `/queues/${enc(vhost)}/${enc(queue)}/get`,
      { count: n, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 1 },
      { maxContentLength: MAX_ANSWER_BYTES },
    );
  } catch (err) {
    // axios refuses an answer over maxContentLength as a bad response, which the client reports
    // as a transport failure: say what it is.
    if (err instanceof TransportError && err.code === 'ERR_BAD_RESPONSE') {
      throw new Error(`the sample of ${n} message(s) answered more than ${MAX_ANSWER_BYTES / 1024 / 1024} MB (large headers?); not read`);
    }
    throw err;
  }
  return readSample(answer);
}
