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
 * Not covered: a leader whose process is gone answers 0 at once ({error, noproc}); that needs a
 * node failure, which the engine's count checks and redelivery handling treat on their own.
 */
import { sleep } from '../async/concurrency.js';

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
