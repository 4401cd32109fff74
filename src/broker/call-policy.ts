/**
 * When a management API call that failed may be made again, and how a call whose answer was an
 * error is settled by reading the broker back (issue 13). ManagementClient uses it for every call:
 * - a transient failure is a 5xx answer, a connection reset or a timeout (not a refused
 *   connection: a node that is down is the callers' business, who wait for it as a whole);
 * - idempotent calls (reads, declarations, deletions; PUT and DELETE in this API) are retried with
 *   exponential back-off and jitter, so that parallel queues that failed together do not come back
 *   in lockstep;
 * - a call whose effect can be read back (a delete: is the object gone? a shovel PUT: does the
 *   parameter exist?) is settled by that reading before it is made again or reported as failed;
 * - anything else (a POST that is not known to be idempotent) is made once.
 * Pure apart from the clock, which tests replace.
 */
import { BrokerError, BrokerUnavailableError } from '../errors.js';
import { sleep } from '../async/concurrency.js';

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  /** Back-off ceiling of the first retry; doubles with every retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No new try starts once this long has passed since the first one (a timeout costs a full timeout). */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 3000, budgetMs: 60_000 };
export const NO_RETRY: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0, budgetMs: 0 };

export interface RetryClock {
  sleep(ms: number): Promise<void>;
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

export const realClock: RetryClock = {
  sleep,
  now: () => Date.now(),
  random: () => Math.random(),
};

/** The management API could not be reached or did not answer; `code` is the socket's (ECONNRESET…). */
export class TransportError extends BrokerUnavailableError {
  constructor(
    reason: string,
    readonly code: string,
  ) {
    super(reason);
  }
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'ESOCKETTIMEDOUT']);

/** A 5xx answer (BrokerError), a connection reset or a timeout. */
export function isTransientCallFailure(err: unknown): boolean {
  if (err instanceof TransportError) return TRANSIENT_CODES.has(err.code);
  return err instanceof BrokerError;
}

/**
 * Delay before retry number `retry` (1-based): "equal jitter", drawn uniformly from the upper half
 * of the exponential ceiling, so it never drops to zero and two callers that failed at the same
 * moment come back at different moments.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface CallOptions {
  policy: RetryPolicy;
  clock?: RetryClock;
  onRetry?(info: RetryInfo): void;
}

/**
 * Makes `call` until it succeeds, fails for good, or the policy is spent. With `settle`, every
 * transient failure is first settled by reading the broker: a value (not undefined) is taken as
 * the call's result ("the object is gone", "the shovel exists"); undefined means the call has to
 * be made again. When the policy is spent the last failure is thrown, with what the read-back
 * showed (`describeUnsettled`) added to its reason.
 */
export async function callWithPolicy<T>(
  call: () => Promise<T>,
  opts: CallOptions & { settle?: () => Promise<T | undefined>; describeUnsettled?: string },
): Promise<T> {
  const clock = opts.clock ?? realClock;
  const started = clock.now();
  let settleFailure: unknown = null;
  for (let attempt = 1; ; attempt++) {
    let failure: unknown;
    try {
      return await call();
    } catch (err) {
      if (!isTransientCallFailure(err)) throw err;
      failure = err;
    }
    if (opts.settle) {
      try {
        const settled = await opts.settle();
        if (settled !== undefined) return settled;
        settleFailure = null;
      } catch (err) {
        if (!isTransientCallFailure(err)) throw err;
        settleFailure = err;
      }
    }
    const spent = attempt >= opts.policy.attempts || clock.now() - started >= opts.policy.budgetMs;
    if (spent)
      throw unsettled(
        failure,
        attempt,
        opts.settle ? (settleFailure ? `reading it back failed too (${(settleFailure as Error).message})` : opts.describeUnsettled) : undefined,
      );
    const delayMs = backoffDelay(opts.policy, attempt, clock.random);
    opts.onRetry?.({ attempt, delayMs, error: failure });
    await clock.sleep(delayMs);
  }
}

function unsettled(err: unknown, attempts: number, readBack: string | undefined): unknown {
  if (attempts <= 1 && !readBack) return err;
  const detail = `${(err as Error).message} (${attempts} tr${attempts === 1 ? 'y' : 'ies'}${readBack ? `; ${readBack}` : ''})`;
  if (err instanceof TransportError) return new TransportError(detail, err.code);
  if (err instanceof BrokerError) return new BrokerError(detail);
  return err;
}
