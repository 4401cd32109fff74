/**
 * Exact message counts that a busy quorum queue cannot fake as zero.
 *
 * RabbitMQ 3.10 answers a passive declare of a quorum queue by asking the queue's leader with a
 * 250 ms timeout, and answers 0 messages when that query times out or fails
 * (rabbit_quorum_queue:stat/2 returns {ok, 0, 0}). A leader busy for a moment — right after a
 * move wrote hundreds of messages to it, with other queues migrating beside it — so makes a full
 * queue read as empty: measured here by suspending a leader (every passive declare answered 0
 * after ≈ 252 ms until it was resumed). A non-zero answer is always a real count; a zero is
 * believed when it came back faster than that timeout (then it cannot be the timeout's answer:
 * no re-read, so a genuinely empty queue costs nothing extra), else it is read again.
 * A quorum queue without a leader answers 0 at once ({error, noproc}): measured by stopping the
 * node of a 2-member queue's leader (the temporary queue's size) — every passive declare answered
 * 0 in 9–200 ms while the management API showed `leader: null` and 1 of 2 members online; as the
 * whole cluster stops this made a verification read "quorum queue has 0 of 1500". Such a zero is
 * no count at all: `unreadableZero` names why (the caller treats it as a transient outage).
 */
import { sleep } from '../async/concurrency.js';
import { BrokerError } from '../errors.js';
import type { BrokerQueue } from './management-types.js';

/** A zero that took this long may be the broker's timeout answer (its stat timeout is 250 ms). */
export const SUSPECT_ZERO_MS = 250;
/** Readings at most, then the zero is returned as it is (the caller's checks decide). */
const MAX_READS = 12;

export interface ConfirmOptions {
  /** Pause before the n-th re-read (1-based), in ms. */
  pauseMs?: (n: number) => number;
}

/**
 * A reading with the time the broker took to answer it: from the moment the request was sent,
 * not from when the caller asked. Reads that share a channel wait for each other's answers (one
 * request at a time on an AMQP channel); timed from the caller's side, every genuine zero read
 * behind others looked as slow as the broker's timeout answer, and was read again and again (up
 * to MAX_READS, seconds per queue while several queues migrate).
 */
export interface TimedCount {
  count: number | null;
  ms: number;
}

/**
 * `read()` until it gives a trustworthy answer: null (no such queue) or a non-zero count at once;
 * a zero once one came back within SUSPECT_ZERO_MS (or after MAX_READS readings). A read that
 * answers a TimedCount is judged by its own `ms`, else by the time the call took.
 */
export async function confirmedCount(read: () => Promise<number | null | TimedCount>, opts: ConfirmOptions = {}): Promise<number | null> {
  const pause = opts.pauseMs ?? ((n: number) => Math.min(25 * 2 ** (n - 1), 200));
  for (let reads = 1; ; reads++) {
    const started = Date.now();
    const answer = await read();
    const timed = answer !== null && typeof answer === 'object';
    const n = timed ? answer.count : answer;
    const ms = timed ? answer.ms : Date.now() - started;
    if (n === null || n > 0) return n;
    if (ms < SUSPECT_ZERO_MS || reads >= MAX_READS) return 0;
    await sleep(pause(reads));
  }
}

/**
 * Why a zero read from this queue cannot be believed (pure; null: it can). A quorum queue with no
 * leader, a leader that is not online, or no majority of its members online answers 0 whatever
 * it holds. Classic queues and queues that are gone: null.
 */
export function unreadableZero(info: Pick<BrokerQueue, 'type' | 'leader' | 'members' | 'online'> | null): string | null {
  if (!info || info.type !== 'quorum') return null;
  if (!info.leader) return 'it has no leader';
  const members = info.members ?? [];
  if (members.length === 0 || !info.online) return null;
  if (!info.online.includes(info.leader)) return `its leader ${info.leader} is not online`;
  if (info.online.length * 2 <= members.length) return `only ${info.online.length} of its ${members.length} members are online`;
  return null;
}

/**
 * `n` as read from `queue`, unless it is a zero that `unreadableZero` rejects for the queue's
 * state now (`lookup`: the management API's view): then a BrokerError (transient: the caller
 * retries from what the broker shows once the queue has a leader again).
 */
export async function believedCount<T extends number | null>(n: T, queue: string, lookup: () => Promise<Parameters<typeof unreadableZero>[0]>): Promise<T> {
  if (n !== 0) return n;
  const why = unreadableZero(await lookup());
  if (why) throw new BrokerError(`quorum queue '${queue}' reads 0 messages but ${why}: its count is unknown until it has a leader again`);
  return n;
}
