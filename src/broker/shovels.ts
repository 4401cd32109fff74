/**
 * Moving every message of one queue into another queue of the same vhost with a dynamic shovel
 * (`ack-mode: on-confirm`, `src-delete-after: never`), and knowing quickly and exactly when it is
 * done. RabbitMQ 3.10 gives shovels no progress counters, so completion is read from exact counts
 * (AMQP passive declare): the source holds no ready message and the destination holds everything
 * that was in both queues at the start. Polling starts at 25 ms and backs off to 250 ms; there is
 * no fixed stability wait. The shovel is then deleted (which hands unacknowledged messages back to
 * the source) and the counts are read again; stragglers are moved by another round.
 *
 * Traps handled: the destination must exist beforehand (a shovel would create a classic queue);
 * a shovel that stays `starting` (unreachable, refused) fails after `startTimeoutMs`; a move that
 * runs past `timeoutMs` fails. The shovel parameter is always deleted before this returns or
 * throws — except when the caller aborts (lock lost): the shovel is then left for the sidecar that
 * takes over, which deletes it.
 */
import { domainEvents, type ShovelErrorReason } from '../events/domain-events.js';
import type { Channel } from 'amqplib';
import { AMQP_NOT_FOUND, amqpCode, isHomeNodeDown, type AmqpPool } from './amqp.js';
import { believedCount, confirmedCount } from './confirmed-count.js';
import { enc, type ManagementClient } from './management-client.js';
import { sleep } from '../async/concurrency.js';

export interface MoveSpec {
  vhost: string;
  /** Shovel parameter name. */
  name: string;
  source: string;
  destination: string;
  startTimeoutMs: number;
  timeoutMs: number;
  /** Called with messages that arrived in the destination since the start. */
  onProgress?: (moved: number) => void;
  /** Called once the shovel parameter exists (test hooks, audit). */
  onShovelCreated?: () => void | Promise<void>;
  /** True when the caller lost the right to continue; the move stops without cleaning up. */
  shouldAbort?: () => boolean;
  /** How long the destination may stop growing, with the source empty, before the move is considered done short. */
  settleMs?: number;
  /** Most rounds (a round = one shovel) before giving up on stragglers. */
  maxRounds?: number;
  /**
   * How long a shovel reported running may move nothing while the source holds messages before
   * it is deleted and created again (default: startTimeoutMs). Twice at most; the third stall fails.
   */
  stallMs?: number;
  /** Called when a stalled shovel is re-created, with what was seen. */
  onStall?: (message: string) => void;
}

export interface MoveResult {
  sourceCount: number;
  destinationCount: number;
  /** Messages in the destination at the start (resume) and at the end. */
  destinationBefore: number;
  rounds: number;
  durationMs: number;
  /** Messages in the source when the move started (exact). */
  sourceBefore?: number;
  /**
   * What the move itself saw, message by message: only the sidecar's own move knows (a 3.10
   * shovel reports no counts). `read`: taken from the source and confirmed in the destination;
   * `withExpiration`: of those, how many carried a per-message TTL.
   */
  seen?: { read: number; withExpiration: number };
}

export class MoveError extends Error {
  constructor(
    message: string,
    readonly sourceCount: number | null,
    readonly destinationCount: number | null,
  ) {
    super(message);
    this.name = 'MoveError';
  }
}

/** A shovel reported running moved nothing for `stallMs` while the source held messages. */
export class ShovelStalledError extends MoveError {
  constructor(message: string, sourceCount: number, destinationCount: number) {
    super(message, sourceCount, destinationCount);
    this.name = 'ShovelStalledError';
  }
}

export class MoveAbortedError extends Error {
  constructor() {
    super('move aborted: this sidecar no longer owns the migration');
    this.name = 'MoveAbortedError';
  }
}

const FIRST_POLL_MS = 25;
/** Re-creations of a stalled shovel within one move before the move fails. */
const MAX_STALL_RESTARTS = 2;
const MAX_POLL_MS = 250;
const STATE_CHECK_MS = 1000;

/** Prefetch tuned to the queue size: small queues need little, large ones gain ≈10 % at 5000. */
export function prefetchFor(messages: number): number {
  return Math.min(Math.max(Math.ceil(messages / 10), 100), 5000);
}

/** `amqp:///<vhost>` (an empty path would be vhost "/"). */
export function localUri(vhost: string): string {
  return `amqp:///${enc(vhost)}`;
}

export function shovelDefinition(vhost: string, source: string, destination: string, prefetch: number): Record<string, unknown> {
  return {
    'src-uri': localUri(vhost),
    'src-queue': source,
    'dest-uri': localUri(vhost),
    'dest-queue': destination,
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
    'src-prefetch-count': prefetch,
  };
}

/**
 * Exact counts (passive declare) on one channel kept for the whole move: polling every 25 ms
 * through a fresh channel each time would make the broker start and stop a channel per poll.
 * A refused declare closes the channel; the next count opens another.
 */
export class QueueCounter {
  private channel: Promise<Channel> | null = null;

  constructor(
    private readonly amqp: AmqpPool,
    private readonly vhost: string,
    private readonly mgmt?: ManagementClient,
  ) {}

  private open(): Promise<Channel> {
    if (!this.channel) {
      const opening = this.amqp.connection(this.vhost).then(async (conn) => {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.channel === opening) this.channel = null;
        });
        return ch;
      });
      opening.catch(() => {
        if (this.channel === opening) this.channel = null;
      });
      this.channel = opening;
    }
    return this.channel;
  }

  async count(queue: string): Promise<number> {
    // A busy quorum leader reads as 0 on 3.10: a zero is confirmed, and a leaderless quorum
    // queue's zero is no count at all (confirmed-count.ts).
    const n = (await confirmedCount(() => this.read(queue))) ?? 0;
    return this.mgmt ? believedCount(n, queue, () => this.mgmt!.queueWithoutStats(this.vhost, queue)) : n;
  }

  private async read(queue: string): Promise<number> {
    const current = this.open();
    try {
      return (await (await current).checkQueue(queue)).messageCount;
    } catch (err) {
      if (this.channel === current) this.channel = null;
      if (amqpCode(err) === AMQP_NOT_FOUND && !isHomeNodeDown(err)) throw new MoveError(`queue '${queue}' does not exist`, null, null);
      throw err;
    }
  }

  async close(): Promise<void> {
    const ch = this.channel;
    this.channel = null;
    if (ch) await ch.then((c) => c.close()).catch(() => undefined);
  }
}

/**
 * The state of shovel `name` as its newest status row says. Several rows can carry one name on
 * 3.10: a row outlives its worker on the node where the worker ran when the delete went through
 * another node (shovel-leftovers.ts), so the row last reported wins.
 */
async function shovelState(mgmt: ManagementClient, vhost: string, name: string): Promise<{ state: string; reason?: string } | null> {
  const rows = (await mgmt.shovels(vhost)).filter((x) => x.name === name);
  const s = newestRow(rows);
  return s ? { state: s.state, reason: s.reason } : null;
}

/** The row with the latest `timestamp` (`YYYY-MM-DD H:MM:SS`, compared by its numbers). */
export function newestRow<T extends { timestamp?: string }>(rows: T[]): T | undefined {
  const key = (t?: string) => (t?.match(/\d+/g) ?? []).map((n) => n.padStart(4, '0')).join('');
  return rows.reduce<T | undefined>((best, r) => (!best || key(r.timestamp) > key(best.timestamp) ? r : best), undefined);
}

export async function deleteShovel(mgmt: ManagementClient, vhost: string, name: string): Promise<boolean> {
  return mgmt.deleteShovel(vhost, name);
}

/**
 * Moves everything from `source` to `destination`. Resolves with the final exact counts (the
 * caller verifies them against what it expects); throws MoveError on a start timeout, a
 * terminated shovel or an overall timeout (shovel deleted), MoveAbortedError on abort.
 */
export async function moveMessages(mgmt: ManagementClient, amqp: AmqpPool, spec: MoveSpec): Promise<MoveResult> {
  const counter = new QueueCounter(amqp, spec.vhost, mgmt);
  try {
    return await move(mgmt, counter, spec);
  } finally {
    await counter.close();
  }
}

async function move(mgmt: ManagementClient, counter: QueueCounter, spec: MoveSpec): Promise<MoveResult> {
  const counts = () => Promise.all([counter.count(spec.source), counter.count(spec.destination)]);
  const started = Date.now();
  const deadline = started + spec.timeoutMs;
  const maxRounds = spec.maxRounds ?? 3;
  const [src0, dst0] = await counts();
  let src = src0;
  let dst = dst0;
  let rounds = 0;
  let stalls = 0;
  while (src > 0) {
    if (rounds >= maxRounds) {
      domainEvents.emit('shovel_error', { reason: 'rounds_exhausted' });
      throw new MoveError(`'${spec.source}' still holds ${src} message(s) after ${rounds} shovel round(s)`, src, dst);
    }
    rounds++;
    const target = src + dst;
    await mgmt.putShovel(spec.vhost, spec.name, shovelDefinition(spec.vhost, spec.source, spec.destination, prefetchFor(src)));
    try {
      await spec.onShovelCreated?.();
      ({ src, dst } = await awaitCompletion(mgmt, counts, spec, target, dst0, deadline));
    } catch (err) {
      if (err instanceof MoveAbortedError) throw err;
      await mgmt.deleteShovel(spec.vhost, spec.name).catch(() => undefined);
      if (err instanceof ShovelStalledError && stalls < MAX_STALL_RESTARTS) {
        // Created again under the same name: the broker first stops any worker of that name.
        stalls++;
        rounds--;
        spec.onStall?.(err.message);
        [src, dst] = await counts();
        continue;
      }
      domainEvents.emit('shovel_error', { reason: shovelErrorReason((err as Error).message) });
      throw err;
    }
    await mgmt.deleteShovel(spec.vhost, spec.name);
    // Deleting the shovel returns its unacknowledged messages to the source: read again.
    [src, dst] = await counts();
    spec.onProgress?.(Math.max(0, dst - dst0));
  }
  return { sourceCount: src, destinationCount: dst, destinationBefore: dst0, rounds, durationMs: Date.now() - started, sourceBefore: src0 };
}

async function awaitCompletion(
  mgmt: ManagementClient,
  counts: () => Promise<[number, number]>,
  spec: MoveSpec,
  target: number,
  dst0: number,
  deadline: number,
): Promise<{ src: number; dst: number }> {
  const startedAt = Date.now();
  let interval = FIRST_POLL_MS;
  let lastStateCheck = startedAt;
  let running = false;
  let lastDst = -1;
  let lastChange = Date.now();
  let lastSrc = -1;
  let lastMove = startedAt;
  const stallMs = spec.stallMs ?? spec.startTimeoutMs;
  for (;;) {
    if (spec.shouldAbort?.()) throw new MoveAbortedError();
    const [src, dst] = await counts();
    spec.onProgress?.(Math.max(0, dst - dst0));
    const now = Date.now();
    if (dst !== lastDst || src !== lastSrc) lastMove = now;
    lastSrc = src;
    if (dst !== lastDst) {
      lastDst = dst;
      lastChange = now;
      if (dst > dst0) running = true;
    }
    if (src === 0 && dst >= target) {
      // Everything arrived. One short beat lets the shovel's last acknowledgements reach the
      // source before the shovel is deleted (an unacknowledged message would come back).
      await sleep(Math.min(interval, 50));
      return { src, dst };
    }
    if (src === 0 && now - lastChange >= (spec.settleMs ?? 1500)) {
      // The source is empty and nothing arrives any more: fewer came than expected (expired,
      // consumed). Stop here; the caller's verification decides.
      return { src, dst };
    }
    if (running && src > 0 && now - lastMove >= stallMs) {
      throw new ShovelStalledError(
        `shovel '${spec.name}' reported running but moved nothing for ${Math.round((now - lastMove) / 1000)} s (${src} message(s) in the source)`,
        src,
        dst,
      );
    }
    if (now > deadline) {
      throw new MoveError(
        `moving '${spec.source}' to '${spec.destination}' timed out: ${src} message(s) still in the source, ${dst} in the destination`,
        src,
        dst,
      );
    }
    // Ask the shovel itself only while nothing is moving (not yet started, or stalled).
    if ((!running || now - lastChange >= STATE_CHECK_MS) && now - lastStateCheck >= STATE_CHECK_MS) {
      lastStateCheck = now;
      const st = await shovelState(mgmt, spec.vhost, spec.name);
      if (st?.state === 'running') running = true;
      else if (st?.state === 'terminated') {
        throw new MoveError(`shovel '${spec.name}' terminated: ${st.reason ?? 'no reason given'}`, src, dst);
      } else if (!running && now - startedAt > spec.startTimeoutMs) {
        throw new MoveError(
          `shovel '${spec.name}' did not start within ${Math.round(spec.startTimeoutMs / 1000)} s (state: ${st?.state ?? 'not reported'}${st?.reason ? `, ${st.reason}` : ''})`,
          src,
          dst,
        );
      }
    }
    await sleep(interval);
    interval = Math.min(MAX_POLL_MS, Math.ceil(interval * 1.5));
  }
}

/** Classifies a failed move's message (MoveError and the timeouts above) for metrics. */
export function shovelErrorReason(message: string): ShovelErrorReason {
  if (/terminated/i.test(message)) return 'terminated';
  if (/did not start/i.test(message)) return 'start_timeout';
  if (/timed out/i.test(message)) return 'timeout';
  if (/shovel round/i.test(message)) return 'rounds_exhausted';
  return 'other';
}
