/**
 * The monitor of one active drain: run by the sidecar holding the drain's lock
 * (`qmig.lock.bluegreen.<id>`), one poll loop per drain, every `pollMs` (1 s):
 *   requests (cancel / cut-over: sealed parameters any sidecar writes, or this process's flags)
 *   → figures (drain-figures.ts) → judgement (drain-judgement.ts: idle tracking, what to do)
 *   → action: re-create a missing link of a draining queue; cancel; cut over; else watch.
 * The record is written when something changed, and every 5 s anyway.
 *
 * Cut-over (every watched queue idle, continuously, for idle_seconds): per queue the shovel is
 * deleted and we wait until the broker stopped it (no shovel consumer on the source queue), then
 * the source is counted EXACTLY (AMQP passive declare): a queue that got a message meanwhile gets
 * its shovel back and keeps draining — nothing is left behind silently. An empty one is `done`
 * (and with remove_source_queues deleted with if-empty; a refused delete also drains on). When
 * no queue is watched any more: temporary user deleted, status completed.
 *
 * Cancel: every shovel deleted and stopped (its unacked messages requeued at the source: at most
 * src-prefetch-count per queue may then exist on both sides), temporary user deleted, cancelled.
 *
 * A lost lock (its connection closed) stops the loop without touching anything: the drain goes on
 * in the broker, and whichever sidecar takes the lock next resumes it.
 */
import { eachAtMost, sleep } from '../async/concurrency.js';
import { describeError } from '../broker/error-description.js';
import { shovelConsumedQueues } from '../broker/shovel-leftovers.js';
import type { Context } from '../context.js';
import { domainEvents } from '../events/domain-events.js';
import { logger, type Logger } from '../logging.js';
import type { ClusterLock } from '../state/cluster-lock.js';
import { timestamp } from '../state/records.js';
import { queueLinkShovelDefinition } from '../transfer/shovel-definition.js';
import { deleteShovelUser } from '../transfer/shovel-user.js';
import type { TargetCluster } from '../transfer/target-cluster.js';
import { auditDrain, type AuditFn } from './drain-audit.js';
import { gatherDrainFigures, type DrainFigures } from './drain-figures.js';
import { decideDrain, idleLongEnough, judgeQueue } from './drain-judgement.js';
import { isActiveDrain, isWatched, type DrainQueueRecord, type DrainRecord, type DrainStatus } from './drain-record.js';
import type { DrainStore } from './drain-store.js';
import { queueFigures, totalsOf } from './drain-view.js';

const HEARTBEAT_MS = 5000;

export interface DrainMonitorDeps {
  ctx: Context;
  store: DrainStore;
  audit: AuditFn;
  pollMs: number;
  /** Called last, when the loop is over (the service forgets the monitor). */
  onEnd: () => void;
}

export class DrainMonitor {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private stopped = false;
  private cancelBy: { at: string; by: string } | null = null;
  private cutoverBy: { at: string; by: string } | null = null;
  private writes: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private readonly log: Logger;
  private readonly who: string;

  constructor(
    private readonly deps: DrainMonitorDeps,
    readonly record: DrainRecord,
    private readonly target: TargetCluster,
    private readonly lock: ClusterLock,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.log = logger.child({ drain_id: record.id, vhost: record.vhost });
    this.who = `qmig:${deps.ctx.instanceId}`;
  }

  /** This process's own requests (the sealed parameters are read too): noted on the record at once. */
  requestCancel(by: string): void {
    this.cancelBy ??= { at: timestamp(), by };
    if (this.noteRequests(this.cancelBy, null)) void this.persist();
  }

  requestCutover(by: string): void {
    this.cutoverBy ??= { at: timestamp(), by };
    if (this.noteRequests(null, this.cutoverBy)) void this.persist();
  }

  /** Notes a cancel (first one wins) and a cut-over (only from draining) on the record; true when it changed. */
  private noteRequests(cancel: { at: string; by: string } | null, cutover: { at: string; by: string } | null): boolean {
    const r = this.record;
    if (!isActiveDrain(r.status)) return false;
    let changed = false;
    if (cancel && !r.cancel_requested_at) {
      r.cancel_requested_at = cancel.at;
      r.cancelled_by = cancel.by;
      auditDrain(this.deps.audit, 'bluegreen_drain_cancel_requested', r, cancel.by);
      changed = true;
    }
    if (cutover && r.status === 'draining' && !r.cancel_requested_at) {
      r.status = 'cutting_over';
      r.cutover_requested_at = cutover.at;
      r.cutover_by = cutover.by;
      auditDrain(this.deps.audit, 'bluegreen_drain_cutover_requested', r, cutover.by, { idle_seconds: r.idle_seconds });
      changed = true;
    }
    return changed;
  }

  /** Runs the loop in the background until the drain ends, the lock is lost or `stop` is called. */
  start(): void {
    this.lock.onLost(() => {
      this.log.warn('drain lock lost (its connection closed): this sidecar stops watching; the shovels run on and another sidecar resumes the drain');
      this.stopped = true;
    });
    void this.loop()
      .catch((err) => this.log.error('drain monitor crashed', { error: describeError(err) }))
      .finally(async () => {
        await this.target.close().catch(() => undefined);
        await this.lock.release().catch(() => undefined);
        this.deps.onEnd();
        this.resolveDone();
      });
  }

  /** Stops watching without ending the drain (sidecar shutdown): the shovels run on. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && isActiveDrain(this.record.status)) {
      try {
        await this.tick();
      } catch (err) {
        this.log.warn('drain monitor tick failed; trying again', { error: describeError(err) });
      }
      if (!this.stopped && isActiveDrain(this.record.status)) await sleep(this.deps.pollMs);
    }
    await this.writes.catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const { store } = this.deps;
    const r = this.record;
    const [cancel, cutover] = await Promise.all([store.requested('cancel', r.id).catch(() => null), store.requested('cutover', r.id).catch(() => null)]);
    const cancelAsk = this.cancelBy ?? (cancel ? { at: cancel.requested_at, by: cancel.by } : null);
    const cutoverAsk = this.cutoverBy ?? (cutover ? { at: cutover.requested_at, by: cutover.by } : null);
    let changed = this.noteRequests(cancelAsk, cutoverAsk);
    if (r.cancel_requested_at) {
      await this.end('cancelled');
      return;
    }

    const figures = await this.figures();
    const now = Date.now();
    for (const q of r.queues.filter(isWatched)) {
      const sample = figures.source.get(q.name);
      if (!sample) {
        await this.failQueue(q, 'the source queue no longer exists (deleted during the drain)');
        changed = true;
        continue;
      }
      const j = judgeQueue(q, sample, now);
      const state = j.idle ? 'idle' : 'draining';
      if (state !== q.state || j.idle_since !== q.idle_since || j.publishing !== q.publishing) changed = true;
      q.state = state;
      q.idle_since = j.idle_since;
      q.publishing = j.publishing;
      q.publish_count = j.publish_count;
      if (!figures.links.has(q.shovel)) {
        this.log.warn('the link of a draining queue is missing: created again', { queue: q.name, shovel: q.shovel });
        r.notes.push(`${timestamp()}: the shovel of queue '${q.name}' was missing and was created again`);
        await this.putShovel(q);
        changed = true;
      }
    }
    const totals = totalsOf(r.queues.map((q) => ({ state: q.state, ...queueFigures(q, figures) })));
    if (JSON.stringify(totals) !== JSON.stringify(r.totals)) {
      r.totals = totals;
      changed = true;
    }
    domainEvents.emit('bluegreen_drain_sampled', { drain_id: r.id, source_messages: totals.source_messages, target_messages: totals.target_messages });
    const action = decideDrain({
      status: r.status,
      cancelRequested: false,
      cutoverRequested: r.status === 'cutting_over',
      idleLongEnough: idleLongEnough(r.queues.filter(isWatched), r.idle_seconds, now),
    });
    if (action === 'cut_over') {
      await this.cutOver();
      return;
    }
    if (changed || Date.now() - this.lastWrite > HEARTBEAT_MS) await this.persist();
  }

  private figures(): Promise<DrainFigures> {
    return gatherDrainFigures(
      this.deps.ctx.mgmt,
      this.target.mgmt,
      this.record.vhost,
      this.record.queues.map((q) => q.shovel),
    );
  }

  private async putShovel(q: DrainQueueRecord): Promise<void> {
    const { ctx } = this.deps;
    await ctx.mgmt.putShovel(
      this.record.vhost,
      q.shovel,
      queueLinkShovelDefinition({ vhost: this.record.vhost, queue: q.name, target: this.target, prefetch: ctx.config.transferPrefetch }),
    );
  }

  /**
   * Deletes the shovel and waits until the broker no longer runs it (no shovel consumer left on
   * the source queue; its unacked messages are then back in the queue), then until the source's
   * exact count stops changing. Answers that count (null: the queue is gone).
   */
  private async stopShovel(q: DrainQueueRecord): Promise<number | null> {
    const { ctx } = this.deps;
    const vhost = this.record.vhost;
    await ctx.mgmt.deleteShovel(vhost, q.shovel);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const consumed = await shovelConsumedQueues(ctx.mgmt, vhost, new Set([q.name]));
      if (consumed.length === 0) break;
      await sleep(200);
    }
    let previous: number | null = -1;
    for (let i = 0; i < 20; i++) {
      const n = await ctx.amqp.messageCount(vhost, q.name);
      if (n === previous) return n;
      previous = n;
      await sleep(250);
    }
    return previous;
  }

  private async failQueue(q: DrainQueueRecord, error: string): Promise<void> {
    await this.deps.ctx.mgmt.deleteShovel(this.record.vhost, q.shovel).catch(() => undefined);
    q.state = 'failed';
    q.error = error;
    q.idle_since = null;
    this.record.notes.push(`${timestamp()}: queue '${q.name}': ${error}`);
    this.log.warn('drain queue failed', { queue: q.name, error });
  }

  /** Every watched queue idle long enough: stop each link, count exactly, finish or drain on. */
  private async cutOver(): Promise<void> {
    const r = this.record;
    const { ctx } = this.deps;
    await eachAtMost(8, r.queues.filter(isWatched), async (q) => {
      const left = await this.stopShovel(q);
      if (left === null) {
        await this.failQueue(q, 'the source queue disappeared during the cut-over');
        return;
      }
      if (left > 0) {
        r.notes.push(`${timestamp()}: queue '${q.name}' had ${left} message(s) at the cut-over: its shovel was started again, it drains on`);
        q.state = 'draining';
        q.idle_since = null;
        await this.putShovel(q);
        return;
      }
      if (r.remove_source_queues) {
        try {
          // if-empty: a message that arrived after the count keeps the queue (and it drains on).
          await ctx.mgmt.deleteQueue(r.vhost, q.name, { ifEmpty: true });
          q.source_removed = true;
        } catch (err) {
          r.notes.push(`${timestamp()}: queue '${q.name}' was not removed (${describeError(err)}): its shovel was started again, it drains on`);
          q.state = 'draining';
          q.idle_since = null;
          await this.putShovel(q);
          return;
        }
      }
      q.state = 'done';
    });
    if (r.queues.some(isWatched)) {
      await this.persist();
      return;
    }
    await this.end(r.queues.some((q) => q.state === 'failed') ? 'failed' : 'completed');
  }

  /** The end: links stopped, temporary user deleted, final figures, record, requests, audit, event. */
  private async end(status: DrainStatus): Promise<void> {
    const r = this.record;
    const { ctx } = this.deps;
    await eachAtMost(8, r.queues.filter(isWatched), async (q) => {
      await this.stopShovel(q).catch((err) => this.log.warn('cannot stop a drain shovel', { shovel: q.shovel, error: describeError(err) }));
      q.state = status === 'cancelled' ? 'cancelled' : 'failed';
      q.idle_since = null;
    });
    // Every link is gone: a link that failed or was done was stopped before.
    for (const q of r.queues) await ctx.mgmt.deleteShovel(r.vhost, q.shovel).catch(() => undefined);
    await deleteShovelUser(this.target.mgmt, r.target_shovel_user).catch((err) => {
      r.notes.push(`the temporary user '${r.target_shovel_user}' could not be deleted on the target (${describeError(err)}): delete it by hand`);
    });
    const figures = await this.figures().catch(() => null);
    for (const q of r.queues) {
      q.publishing = false;
      if (figures) q.final = queueFigures(q, figures);
    }
    if (figures) r.totals = totalsOf(r.queues.map((q) => ({ state: q.state, ...q.final! })));
    r.status = status;
    r.ended_at = timestamp();
    await this.persist();
    await this.deps.store.clearRequests(r.id).catch(() => undefined);
    const action = status === 'completed' ? 'bluegreen_drain_completed' : status === 'cancelled' ? 'bluegreen_drain_cancelled' : 'bluegreen_drain_failed';
    auditDrain(this.deps.audit, action, r, status === 'cancelled' ? (r.cancelled_by ?? this.who) : (r.cutover_by ?? this.who), {
      removed_source_queues: r.queues.filter((q) => q.source_removed).length,
      notes: r.notes,
    });
    domainEvents.emit('bluegreen_drain_ended', { drain_id: r.id, vhost: r.vhost, status });
    this.log.info('drain ended', { status, source_messages: r.totals.source_messages, target_messages: r.totals.target_messages });
  }

  /** Writes the record now (writes are chained; a failed one is logged, the next carries the change). */
  persist(): Promise<void> {
    const r = this.record;
    r.updated_at = timestamp();
    this.lastWrite = Date.now();
    const snapshot = JSON.parse(JSON.stringify(r)) as DrainRecord;
    this.writes = this.writes.catch(() => undefined).then(() => this.deps.store.save(snapshot));
    return this.writes.catch((err) => {
      this.log.warn('cannot save the drain record', { error: describeError(err) });
    });
  }
}
