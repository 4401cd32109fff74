/**
 * QueueActions (queue-actions.ts) against the broker: management calls, passive declares,
 * shovels (src/broker/shovels.ts) and the sidecar's own moves (src/broker/sidecar-move.ts).
 * Audits what it does to the broker on the way (shovels, sidecar moves, unbinding).
 */
import { eachAtMost, sleep } from '../async/concurrency.js';
import { describeError } from '../broker/error-description.js';
import type { BrokerQueue } from '../broker/management-client.js';
import { sampleExpirations, type ExpirationSample } from '../broker/message-sample.js';
import { shovelName } from '../broker/names.js';
import { removeShovels } from '../broker/shovel-leftovers.js';
import { moveMessages, type MoveResult } from '../broker/shovels.js';
import { moveThroughSidecar, type SidecarMoveResult } from '../broker/sidecar-move.js';
import { isQuorum } from '../checks/queue-selection.js';
import { believedCount } from '../broker/confirmed-count.js';
import { BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import type { OriginalQueue } from '../state/records.js';
import type { MoveRequest, QueueActions } from './queue-actions.js';
import { isTransient } from './queue-errors.js';
import { directionOf, type Direction, type QueueRunEnv } from './queue-work.js';
import type { ObservedQueue } from './resume.js';
import { movePath } from './move-path.js';

/**
 * Binding and unbinding requests of one queue in flight at once. One after the other they cost a
 * management round trip each (a second and more apiece on a loaded broker: 7 bindings were 5 s
 * of a 30 s queue); the broker carries them out independently of each other.
 */
const BINDING_CALLS_AT_ONCE = 8;

/** A quorum queue's zero count is believed when a second reading this much later agrees (deleteIfEmpty). */
const QUORUM_ZERO_RECHECK_MS = 1000;

export class BrokerQueueActions implements QueueActions {
  private readonly vhost: string;
  private readonly direction: Direction;

  constructor(
    private readonly env: QueueRunEnv,
    private readonly queue: string,
    vhost: string,
    private readonly temporary: string,
  ) {
    this.vhost = vhost;
    this.direction = directionOf(env.migration);
  }

  private get mgmt() {
    return this.env.mgmt;
  }
  private get amqp() {
    return this.env.ctx.amqp;
  }
  private audit(action: string, details: Record<string, unknown> = {}): void {
    this.env.audit({ action, queue: this.queue, details });
  }

  /**
   * Under load the API may answer a queue without its stats-backed fields (policy,
   * effective_policy_definition) for a moment; such an answer is read again rather than taken
   * for "not mirrored".
   */
  async readQueue(): Promise<BrokerQueue | null> {
    for (let attempt = 1; ; attempt++) {
      const info = await this.lookup(this.queue);
      if (!info || isQuorum(info) || info.effective_policy_definition !== undefined || attempt >= 40) return info;
      await sleep(250);
    }
  }

  /**
   * The queue as the management API shows it; null when it does not exist. A node that is starting
   * (`start_app`) answers 404 for a moment for queues that exist, and for their vhost too (measured
   * on 3.10.8, with shovel listings and global-parameter writes: queue-errors.ts isTransient): a 404
   * is believed only while the vhost is there, otherwise it is a transient error (the step is
   * retried from what the broker then shows).
   */
  private async lookup(queue: string): Promise<BrokerQueue | null> {
    const info = await this.mgmt.queue(this.vhost, queue);
    if (info !== null || (await this.mgmt.vhost(this.vhost)) !== null) return info;
    throw new BrokerUnavailableError(
      `the management API answers 404 for queue '${queue}' and for its vhost '${this.vhost}' (a node that is starting answers so)`,
    );
  }

  async bindingsOf(queue: string): Promise<OriginalQueue['bindings']> {
    return (await this.mgmt.queueBindings(this.vhost, queue))
      .filter((b) => b.source !== '' && b.destination_type === 'queue')
      .map((b) => ({ source: b.source, routing_key: b.routing_key, arguments: b.arguments ?? {} }));
  }

  sampleExpirations(count: number): Promise<ExpirationSample> {
    return sampleExpirations(this.mgmt, this.vhost, this.queue, count);
  }

  /**
   * The exact count; a zero from a quorum queue that cannot answer (no leader, no majority: it
   * reads 0 whatever it holds, see confirmed-count.ts) is a transient BrokerError, never a count.
   */
  async count(queue: string): Promise<number | null> {
    return believedCount(await this.amqp.messageCount(this.vhost, queue), queue, () => this.mgmt.queueWithoutStats(this.vhost, queue));
  }

  async exists(queue: string): Promise<boolean> {
    return (await this.lookup(queue)) !== null;
  }

  async observe(): Promise<ObservedQueue> {
    const read = () => Promise.all([this.lookup(this.queue), this.lookup(this.temporary)]);
    let [main, temporary] = await read();
    // A quorum queue without a running leader cannot be counted (a passive declare waits for it).
    // A leader can be missing for a moment (an election): read again before believing it.
    const leaderless = (info: BrokerQueue | null) => !!info && isQuorum(info) && !info.leader;
    for (let i = 0; i < 3 && (leaderless(main) || leaderless(temporary)); i++) {
      await sleep(1000);
      [main, temporary] = await read();
    }
    const available = (info: BrokerQueue | null) => (info && isQuorum(info) ? !!info.leader : undefined);
    const mainAvailable = available(main);
    const temporaryAvailable = available(temporary);
    const [mainCount, temporaryCount] = await Promise.all([
      main && mainAvailable !== false ? this.amqp.messageCount(this.vhost, this.queue) : Promise.resolve(null),
      temporary && temporaryAvailable !== false ? this.amqp.messageCount(this.vhost, this.temporary) : Promise.resolve(null),
    ]);
    const kind = (info: BrokerQueue) => (isQuorum(info) ? 'quorum' : 'classic');
    return {
      main: !main ? 'absent' : kind(main) === this.direction.source ? 'source' : 'target',
      mainCount,
      temporary: temporary !== null,
      temporaryCount,
      ...(mainAvailable !== undefined ? { mainAvailable } : {}),
      ...(temporaryAvailable !== undefined ? { temporaryAvailable } : {}),
    };
  }

  async declareTemporary(replicas: number | undefined, node: string | null): Promise<void> {
    await this.mgmt.declareQueue(this.vhost, this.temporary, {
      durable: true,
      // Always given: without it the broker makes every cluster member a replica, also nodes that are down.
      arguments: { 'x-queue-type': 'quorum', ...(typeof replicas === 'number' && replicas >= 1 ? { 'x-quorum-initial-group-size': replicas } : {}) },
      ...(node ? { node } : {}),
    });
  }

  async declareTarget(args: Record<string, unknown>, node: string | null, autoDelete = false): Promise<void> {
    await this.mgmt.declareQueue(this.vhost, this.queue, {
      durable: true,
      ...(autoDelete ? { auto_delete: true } : {}),
      arguments: args,
      ...(node ? { node } : {}),
    });
  }

  /**
   * A classic queue is deleted by the broker only if empty (atomic). Quorum queues do not take
   * the if-empty flag on 3.10 (400 "not supported by quorum queues"): a rollback, which deletes
   * quorum queues, counts and then deletes — safe only with clients fenced (nothing can publish in
   * between), which a rollback requires (migration-service.ts). The zero is read twice, a second
   * apart: a quorum queue whose leader is on a node that is stopping answers 0 at once until a new
   * leader is elected (≈ 0.4 s, measured on 3.10.8), and a queue taken as empty then is deleted.
   */
  async deleteIfEmpty(queue: string): Promise<boolean> {
    try {
      await this.mgmt.deleteQueue(this.vhost, queue, { ifEmpty: true });
      return true;
    } catch (err) {
      if (!(err instanceof BrokerRequestError) || err.status !== 400) throw err;
      if (!/not supported by quorum queues/.test(err.brokerReason)) return false;
    }
    if ((await this.amqp.messageCount(this.vhost, queue)) !== 0) return false;
    await sleep(QUORUM_ZERO_RECHECK_MS);
    if ((await this.amqp.messageCount(this.vhost, queue)) !== 0) return false;
    await this.mgmt.deleteQueue(this.vhost, queue);
    return true;
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.mgmt.deleteQueue(this.vhost, queue);
  }

  async bind(queue: string, bindings: OriginalQueue['bindings']): Promise<void> {
    await eachAtMost(BINDING_CALLS_AT_ONCE, bindings, (b) => this.mgmt.bindQueue(this.vhost, b.source, queue, b.routing_key, b.arguments));
  }

  async unbindTemporary(): Promise<void> {
    const bindings = (await this.mgmt.queueBindings(this.vhost, this.temporary)).filter((b) => b.source !== '');
    await eachAtMost(BINDING_CALLS_AT_ONCE, bindings, async (b) => {
      this.audit('unbind', { queue_bound: this.temporary, exchange: b.source, routing_key: b.routing_key });
      await this.mgmt.unbindQueue(this.vhost, b.source, this.temporary, b.properties_key);
    });
  }

  async move({ source, destination, direction, progress, usingShovel }: MoveRequest): Promise<MoveResult> {
    const name = shovelName(this.queue, direction);
    const cfg = this.env.ctx.config;
    const waiting = (await this.amqp.messageCount(this.vhost, source)) ?? 0;
    if (movePath(waiting, cfg.shovelMinMessages) === 'sidecar') {
      const moved = await this.moveSmall(source, destination, waiting, progress);
      if (moved) return moved;
    }
    usingShovel(name);
    const result = await moveMessages(this.mgmt, this.amqp, {
      vhost: this.vhost,
      name,
      source,
      destination,
      startTimeoutMs: cfg.shovelStartTimeoutSeconds * 1000,
      timeoutMs: cfg.shovelTimeoutSeconds * 1000,
      shouldAbort: () => this.env.shouldAbort(),
      onShovelCreated: () => {
        this.audit('create_shovel', { shovel: name, source, destination });
        return this.env.hooks?.onShovelCreated?.({ migrationId: this.env.migration.id, queue: this.queue, shovel: name, direction });
      },
      onProgress: progress,
      onStall: (seen) => {
        this.env.log.warn('a shovel moved nothing while reported running; created again', { queue: this.queue, shovel: name, seen });
        this.audit('restart_shovel', { shovel: name, reason: seen });
      },
    });
    if (result.rounds > 0)
      this.audit('delete_shovel', {
        shovel: name,
        rounds: result.rounds,
        source_left: result.sourceCount,
        destination_count: result.destinationCount,
        ms: result.durationMs,
      });
    return result;
  }

  /**
   * A queue below QMIG_SHOVEL_MIN_MESSAGES is moved by the sidecar itself (sidecar-move.ts):
   * cheaper for the broker than a shovel's set-up and removal. Messages that arrive meanwhile
   * (clients not fenced) are moved by further rounds, as a shovel move would. Null when the
   * sidecar cannot move these messages (e.g. one carries a user-id the broker will not let the
   * service account publish): the caller then uses a shovel for what is left.
   */
  private async moveSmall(source: string, destination: string, waiting: number, progress: (moved: number) => void): Promise<MoveResult | null> {
    const started = Date.now();
    const count = async (queue: string) => (await this.count(queue)) ?? 0;
    const destinationBefore = await count(destination);
    let src = waiting;
    let moved = 0;
    let withExpiration = 0;
    for (let round = 1; src > 0 && round <= 3; round++) {
      this.audit('sidecar_move', { from: source, into: destination, messages: src, round });
      try {
        const r = await moveThroughSidecar(this.amqp, {
          vhost: this.vhost,
          source,
          destination,
          surplus: 0,
          idleTimeoutMs: this.env.ctx.config.shovelStartTimeoutSeconds * 1000,
          onProgress: (n) => progress(moved + n),
          publisherUser: this.env.ctx.config.user,
        });
        moved += r.forwarded;
        withExpiration += r.forwardedWithExpiration;
        if (r.stopped) {
          this.env.log.warn('the sidecar could not move every message itself; a shovel moves the rest', { queue: this.queue, from: source, reason: r.stopped });
          // The messages it did not move go back to the source asynchronously (a quorum queue
          // through its log): the shovel's move must see them there, or it would end early.
          const left = src - r.forwarded;
          for (const until = Date.now() + 10_000; (await count(source)) < left && Date.now() < until;) await sleep(50);
          return null;
        }
      } catch (err) {
        if (isTransient(err)) throw err;
        this.env.log.warn('the sidecar could not move these messages itself; a shovel moves the rest', {
          queue: this.queue,
          from: source,
          error: describeError(err),
        });
        return null;
      }
      src = await count(source);
    }
    if (src > 0) return null; // still arriving: the shovel path's rounds decide
    const destinationCount = await count(destination);
    progress(Math.max(0, destinationCount - destinationBefore));
    const seen = { read: moved, withExpiration };
    return { sourceCount: src, destinationCount, destinationBefore, rounds: 0, durationMs: Date.now() - started, sourceBefore: waiting, seen };
  }

  removeCopies(source: string, destination: string, surplus: number): Promise<SidecarMoveResult> {
    return moveThroughSidecar(this.amqp, {
      vhost: this.vhost,
      source,
      destination,
      surplus,
      idleTimeoutMs: this.env.ctx.config.shovelStartTimeoutSeconds * 1000,
      publisherUser: this.env.ctx.config.user,
    });
  }

  async moveBack(): Promise<MoveResult> {
    this.audit('unbind', { queue_bound: this.temporary, reason: 'gathering messages after a failure' });
    for (const b of (await this.mgmt.queueBindings(this.vhost, this.temporary)).filter((x) => x.source !== '')) {
      await this.mgmt.unbindQueue(this.vhost, b.source, this.temporary, b.properties_key);
    }
    return moveMessages(this.mgmt, this.amqp, {
      vhost: this.vhost,
      name: shovelName(this.queue, 'back'),
      source: this.temporary,
      destination: this.queue,
      startTimeoutMs: this.env.ctx.config.shovelStartTimeoutSeconds * 1000,
      timeoutMs: this.env.ctx.config.shovelTimeoutSeconds * 1000,
    });
  }

  removeShovels(): Promise<number> {
    const names = (['to-temporary', 'to-quorum', 'back'] as const).map((d) => shovelName(this.queue, d));
    return removeShovels(this.mgmt, this.vhost, names, {
      pace: this.env.cleanupPace,
      onDelete: (name, how) =>
        this.audit('delete_shovel', {
          shovel: name,
          reason: 'left by an interrupted or late step',
          ...(how === 'take_over' ? { how: 'taken over: listed without a parameter' } : {}),
        }),
    });
  }
}
