/**
 * Exact message counts that a busy quorum queue cannot fake as zero.
 *
 * RabbitMQ 3.10 answers a passive declare of a quorum queue by asking the queue's leader with a
 * 250 ms timeout, and answers 0 messages when that query times out or fails
 * (rabbit_quorum_queue:stat/2 returns {ok, 0, 0}). A leader busy for a moment — right after a
 * move wrote hundreds of messages to it, with other queues migrating beside it — so makes a full
 * queue read as empty: measured here by suspending a leader (every passive declare answered 0
 * after ≈ 252 ms until it was resumed). A non-zero answer is always a real count; a zero is
 * believed only when it was answered well within that timeout, twice, a moment apart.
 */

/** A zero that took longer than this may be the broker's timeout answer. */
export const SUSPECT_ZERO_MS = 200;
/** Zero readings answered fast enough that must agree before a zero is believed. */
const CONFIRMATIONS = 2;
/** Readings at most, then the zero is returned as it is (the caller's checks decide). */
const MAX_READS = 12;

export interface ConfirmOptions {
  /** Pause before the n-th re-read (1-based), in ms. */
  pauseMs?: (n: number) => number;
}

/**
 * `read()` until it gives a trustworthy answer: null (no such queue) or a non-zero count at once;
 * a zero once CONFIRMATIONS readings of zero came back within SUSPECT_ZERO_MS.
 */
export async function confirmedCount(read: () => Promise<number | null>, opts: ConfirmOptions = {}): Promise<number | null> {
  const pause = opts.pauseMs ?? ((n: number) => Math.min(50 * 2 ** (n - 1), 400));
  let fastZeros = 0;
  for (let reads = 1; ; reads++) {
    const started = Date.now();
    const n = await read();
    if (n === null || n > 0) return n;
    if (Date.now() - started < SUSPECT_ZERO_MS) fastZeros++;
    if (fastZeros >= CONFIRMATIONS || reads >= MAX_READS) return 0;
    await new Promise((r) => setTimeout(r, pause(reads)));
  }
}
