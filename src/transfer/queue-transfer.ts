/**
 * Moves ONE queue of a transfer to the target cluster (the shovel itself: shovel-definition.ts):
 *   1. recreate its topology on the target (topology-copy.ts);
 *   2. count exactly (AMQP passive declare) the ready messages at the source and in the target queue;
 *   3. a dynamic shovel in the SOURCE broker moves them to the target's AMQP URI: `ack-mode:
 *      on-confirm` (a message is acked at the source only after the target confirmed it) and
 *      `src-delete-after: queue-length` (it moves the messages that were there when it started,
 *      then deletes itself — its parameter disappearing is "done");
 *   4. verify: the target queue gained at least what was expected (rounds repeat, up to
 *      MAX_ROUNDS, while new messages keep arriving at the source);
 *   5. only then, and only if asked (`remove_source_queue`), delete the source queue — and only
 *      when it is empty. By default the source queue is left in place, empty.
 *
 * Cancel: the shovel is deleted and we wait until the broker has stopped it; whatever the target
 * confirmed is counted as moved and stays there, the rest stays in the source queue, which is
 * never removed for a cancelled queue.
 *
 * At-least-once window (why a cancel can duplicate a few messages): with on-confirm, the shovel
 * acks a message at the source only after the target confirmed it. When the shovel is deleted,
 * every message it holds unacked at the source — published to the target (confirmed or not yet)
 * but not yet acked — is requeued at the source by the broker. Those that had reached the target
 * now exist on both clusters. At most `src-prefetch-count` (QMIG_TRANSFER_PREFETCH) messages are
 * unacked at any time, so a cancel duplicates at most that many messages per queue in flight and
 * loses none. A completed move (the shovel finishes by itself) has no such window.
 */
import { sleep } from '../async/concurrency.js';
import { describeError } from '../broker/error-description.js';
import type { BrokerQueue } from '../broker/management-client.js';
import { transferShovelName } from '../broker/names.js';
import { shovelConsumedQueues } from '../broker/shovel-leftovers.js';
import { newestRow } from '../broker/shovels.js';
import type { Context } from '../context.js';
import { QueueFailure } from '../errors.js';
import { domainEvents } from '../events/domain-events.js';
import type { Logger } from '../logging.js';
import { timestamp } from '../state/records.js';
import { erlangText, PERMANENT_REFUSAL, transferShovelDefinition } from './shovel-definition.js';
import type { TargetCluster } from './target-cluster.js';
import { copyQueueTopology, queueTypeOf } from './topology-copy.js';
import type { TransferQueueRecord, TransferRecord } from './transfer-record.js';

/** Shovel rounds per queue: a round moves what was there when it started. */
export const MAX_ROUNDS = 3;

export interface QueueRunDeps {
  ctx: Context;
  target: TargetCluster;
  record: TransferRecord;
  /** Writes the record now (state transitions). */
  persist: () => Promise<void>;
  /** Marks the record changed; written within a second or so (progress). */
  touch: () => void;
  /** True once a cancel was requested. */
  cancelled: () => boolean;
  log: Logger;
  pollMs?: number;
}

/** Reads `read` until two consecutive values 150 ms apart agree (at most ~2 s), returns the last. */
async function settled(read: () => Promise<number>): Promise<number> {
  let previous = await read();
  for (let i = 0; i < 12; i++) {
    await sleep(150);
    const n = await read();
    if (n === previous) return n;
    previous = n;
  }
  return previous;
}

type ShovelOutcome = 'done' | 'cancelled';

export class QueueTransfer {
  private readonly pollMs: number;
  /** Counts at the start of the current shovel round. */
  private round: { movedBefore: number; targetBefore: number } | null = null;

  constructor(
    private readonly deps: QueueRunDeps,
    private readonly q: TransferQueueRecord,
    private readonly index: number,
  ) {
    this.pollMs = deps.pollMs ?? 500;
  }

  private get vhost(): string {
    return this.deps.record.vhost;
  }

  async run(): Promise<void> {
    const { ctx, record } = this.deps;
    const q = this.q;
    q.status = 'in_progress';
    q.started_at = timestamp();
    await this.deps.persist();
    try {
      const source = await ctx.mgmt.queue(this.vhost, q.name);
      if (!source) throw new QueueFailure('the queue no longer exists on the source');
      const topology = await copyQueueTopology(ctx.mgmt, this.deps.target.mgmt, this.vhost, source);
      q.notes.push(...topology.notes);
      this.deps.touch();
      if (this.deps.cancelled()) {
        q.left_at_source = await this.sourceCount();
        q.status = 'cancelled';
        q.notes.push('cancelled before any message moved');
        return;
      }
      const outcome = await this.move();
      q.left_at_source = await this.sourceCount();
      if (outcome === 'cancelled') {
        q.status = 'cancelled';
        return;
      }
      if (record.remove_source_queue) {
        if (this.deps.cancelled()) {
          q.status = 'cancelled';
          q.notes.push('all messages moved; the source queue was not removed because the transfer was cancelled');
          return;
        }
        await this.removeSource(source);
      }
      q.status = 'completed';
    } catch (err) {
      q.status = 'failed';
      // Our own reasons in full; a broker's error as the one describer words it (capped).
      q.error = err instanceof QueueFailure ? err.message : describeError(err);
      this.deps.log.warn('queue transfer failed', { queue: q.name, error: q.error });
      if (q.shovel) await this.stopShovel(q.shovel).catch(() => undefined);
      q.left_at_source = await this.sourceCount().catch(() => q.left_at_source);
      // What the target gained in the failed round is moved (and stays there).
      const round = this.round;
      if (round) {
        const now = await this.deps.target.messageCount(this.vhost, q.name).catch(() => null);
        if (now !== null) q.moved_messages = round.movedBefore + Math.max(0, now - round.targetBefore);
      }
    } finally {
      q.shovel = null;
      q.completed_at = timestamp();
      domainEvents.emit('transfer_queue_finished', { outcome: q.status, moved: q.moved_messages });
    }
  }

  /**
   * Exact ready count at the source, read until two reads 150 ms apart agree: a quorum queue's
   * count is read from the member on the node we are connected to, which may lag the leader by a
   * moment right after a shovel acked its last messages.
   */
  private sourceCount(): Promise<number> {
    return settled(async () => {
      const n = await this.deps.ctx.amqp.messageCount(this.vhost, this.q.name);
      if (n === null) throw new QueueFailure('the queue disappeared from the source');
      return n;
    });
  }

  private targetCount(): Promise<number> {
    return settled(async () => {
      const n = await this.deps.target.messageCount(this.vhost, this.q.name);
      if (n === null) throw new QueueFailure('the queue disappeared from the target');
      return n;
    });
  }

  /** Shovel rounds until the source is empty (or MAX_ROUNDS); 'cancelled' when a cancel stopped one. */
  private async move(): Promise<ShovelOutcome> {
    const q = this.q;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.deps.cancelled()) return 'cancelled';
      const expected = await this.sourceCount();
      if (expected === 0) break;
      if (round > 0) q.notes.push(`round ${round + 1}: ${expected} message(s) arrived at the source during the move`);
      q.expected_messages += expected;
      const movedBefore = q.moved_messages;
      const targetBefore = await this.targetCount();
      this.round = { movedBefore, targetBefore };
      const name = transferShovelName(this.deps.record.id, this.index, round);
      const outcome = await this.runShovel(name, (now) => {
        q.moved_messages = movedBefore + Math.max(0, now - targetBefore);
      });
      const gained = (await this.targetCount()) - targetBefore;
      q.moved_messages = movedBefore + Math.max(0, gained);
      if (outcome === 'cancelled') return 'cancelled';
      if (gained < expected) {
        const target = await this.deps.target.mgmt.queue(this.vhost, q.name);
        if (target && (target.consumers ?? 0) > 0) {
          // Consumers on the target take messages as they arrive: the target count cannot show
          // them. The shovel finished its queue-length run, i.e. it moved `expected` messages.
          q.moved_messages = movedBefore + expected;
          q.notes.push(`the target queue has ${target.consumers} consumer(s): moved count taken from the shovel's run, not observed on the target`);
        } else {
          const sourceNow = await this.deps.ctx.mgmt.queue(this.vhost, q.name).catch(() => null);
          const consumers = sourceNow?.consumers ?? 0;
          throw new QueueFailure(
            `verification failed: the target queue gained ${gained} message(s), ${expected} expected` +
              (consumers > 0 ? `; the source queue has ${consumers} consumer(s), which may have taken the difference (stop them before a transfer)` : ''),
          );
        }
      }
    }
    return 'done';
  }

  /** Runs one shovel to its end (parameter gone) or until cancelled/failed. */
  private async runShovel(name: string, progress: (targetNow: number) => void): Promise<ShovelOutcome> {
    const { ctx } = this.deps;
    const q = this.q;
    q.shovel = name;
    await this.deps.persist(); // the record names the shovel before it exists
    await ctx.mgmt.putShovel(
      this.vhost,
      name,
      transferShovelDefinition({ vhost: this.vhost, queue: q.name, target: this.deps.target, prefetch: ctx.config.transferPrefetch }),
    );
    const started = Date.now();
    const startTimeoutMs = ctx.config.shovelStartTimeoutSeconds * 1000;
    let everRunning = false;
    let lastState = 'starting';
    let lastReason: string | undefined;
    let sawTerminated = false;
    let lastAdvance = Date.now();
    let lastCount = -1;
    let lastProgress = 0;
    for (;;) {
      if (this.deps.cancelled()) {
        const stopped = await this.stopShovel(name);
        q.shovel = null;
        // The shovel deleted itself before we could: it finished, nothing to cancel.
        return stopped ? 'cancelled' : 'done';
      }
      const parameter = await ctx.mgmt.shovelParameter(this.vhost, name);
      if (!parameter) {
        q.shovel = null;
        return 'done';
      }
      // The newest row: on 3.10 a row can outlive its worker on another node (shovel-leftovers.ts).
      const status = newestRow((await ctx.mgmt.shovels(this.vhost)).filter((s) => s.name === name));
      if (status) {
        lastState = status.state;
        if (status.state === 'running') everRunning = true;
        if (status.state === 'terminated') {
          sawTerminated = true;
          lastReason = status.reason;
          // A refusal by a broker will not go away by retrying, and every retry of the shovel
          // re-sends what it held unacked: stop at once.
          if (PERMANENT_REFUSAL.test(lastReason ?? '')) {
            throw new QueueFailure(
              `shovel ${name} was refused (${erlangText(lastReason)}); the remaining messages stay in the source queue` +
                (/user_id/.test(lastReason ?? '')
                  ? `. Give '${this.deps.target.user}' the impersonator tag on the target to move messages whose user_id property names another user`
                  : ''),
            );
          }
        }
      }
      if (Date.now() - lastProgress >= 1000) {
        lastProgress = Date.now();
        const now = await this.deps.target.messageCount(this.vhost, q.name).catch(() => null);
        if (now !== null) {
          if (now > lastCount) {
            if (lastCount >= 0) {
              lastAdvance = Date.now();
              sawTerminated = false;
            }
            lastCount = now;
          }
          progress(now);
          this.deps.touch();
        }
      }
      // A shovel that never runs (target unreachable from the source broker, refused login) or
      // that keeps failing (terminated, restarted every reconnect-delay) without moving anything.
      if (Date.now() - lastAdvance > startTimeoutMs) {
        if (sawTerminated) {
          throw new QueueFailure(
            `shovel ${name} keeps failing (${erlangText(lastReason)}) and moved nothing for ${ctx.config.shovelStartTimeoutSeconds} s; the remaining messages stay in the source queue. ` +
              `Common causes: a message whose user_id property differs from the target user (give '${this.deps.target.user}' the impersonator tag on the target), ` +
              'a target queue that refuses messages (x-max-length with reject-publish), or the target closing the connection; the source broker log has the details',
          );
        }
        if (!everRunning) {
          throw new QueueFailure(
            `shovel ${name} did not start within ${ctx.config.shovelStartTimeoutSeconds} s (state ${lastState}): can the source broker reach the target's AMQP listener ${this.deps.target.publicAmqpUri(this.vhost)} and log in?`,
          );
        }
      }
      if (Date.now() - started > ctx.config.shovelTimeoutSeconds * 1000) {
        throw new QueueFailure(`shovel ${name} did not finish within ${ctx.config.shovelTimeoutSeconds} s (QMIG_SHOVEL_TIMEOUT_SECONDS)`);
      }
      await sleep(this.pollMs);
    }
  }

  /**
   * Deletes the shovel and waits until the broker no longer runs it (its source channel is then
   * closed and its unacked messages are back in the source queue). False when it was already gone.
   */
  private async stopShovel(name: string): Promise<boolean> {
    const { ctx } = this.deps;
    const existed = await ctx.mgmt.deleteShovel(this.vhost, name);
    // The worker is gone when no shovel consumer is left on the source queue (the status list is
    // not asked: on 3.10 a row can outlive its worker, see shovel-leftovers.ts).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const consumed = await shovelConsumedQueues(ctx.mgmt, this.vhost, new Set([this.q.name]));
      if (consumed.length === 0) break;
      await sleep(200);
    }
    // Requeued messages are visible to a passive declare once the channel is gone; wait until the
    // source count stops changing so that left_at_source is final.
    let previous = -1;
    for (let i = 0; i < 20; i++) {
      const n = await ctx.amqp.messageCount(this.vhost, this.q.name).catch(() => null);
      if (n === null || n === previous) break;
      previous = n;
      await sleep(250);
    }
    return existed;
  }

  /** Deletes the source queue, only when it is empty (classic: if-empty; quorum: count, then delete). */
  private async removeSource(source: BrokerQueue): Promise<void> {
    const q = this.q;
    const left = await this.sourceCount();
    if (left > 0) {
      throw new QueueFailure(`the source queue still has ${left} message(s) (publishers still active?); it was not removed — move them with another transfer`);
    }
    const quorum = queueTypeOf(source) === 'quorum';
    try {
      // Quorum queues do not support if-empty; the count above is the guard.
      await this.deps.ctx.mgmt.deleteQueue(this.vhost, q.name, { ifEmpty: !quorum });
    } catch (err) {
      throw new QueueFailure(`the source queue was not removed: ${describeError(err)}`);
    }
    q.source_removed = true;
    q.left_at_source = 0;
  }
}
