/**
 * Blue-green drains (issue 18 items 2, 4, 5): start, list, status, cut-over, cancel, resume.
 *
 * `start` refuses a vhost where a migration or a transfer runs, or a drain is active (409
 * bluegreen_in_progress; one start per vhost at a time through `qmig.lock.bluegreen-vhost.<hash>`),
 * applies the definitions plan exactly as `POST bluegreen/definitions` (409 definitions_conflict,
 * nothing written), records the drain (drain-record.ts, target password encrypted), creates the
 * temporary user on the target and one continuous shovel per queue of the plan, audits and starts
 * the monitor (drain-monitor.ts) under the drain's lock.
 *
 * Cut-over and cancel work from any sidecar: a sealed request parameter (drain-store.ts) that the
 * monitor reads; when no sidecar holds the drain's lock, the asking sidecar resumes the drain
 * first. Resume (`resume`, at start and on each housekeeping tick): every active drain whose lock
 * is free is taken by this sidecar. Shutdown stops watching only: the shovels run on in the broker.
 */
import { sleep } from '../async/concurrency.js';
import { describeError } from '../broker/error-description.js';
import { DRAIN_USER_PREFIX, drainLockName, drainShovelName, drainVhostLockName } from '../broker/names.js';
import type { Context } from '../context.js';
import { BadRequestError, BlueGreenInProgressError, DrainStateError, InvalidStateError, ObjectNotFoundError } from '../errors.js';
import { domainEvents } from '../events/domain-events.js';
import { logger } from '../logging.js';
import { auditLog } from '../state/audit-log.js';
import type { ClusterLock } from '../state/cluster-lock.js';
import { LockHeldError } from '../state/cluster-lock.js';
import { acquireLock, lockHeld } from '../state/lock-guard.js';
import { decodeMigrationId, newMigrationId } from '../state/migration-id.js';
import { ACTIVE_STATUSES, timestamp, vhostsOf } from '../state/records.js';
import { queueLinkShovelDefinition } from '../transfer/shovel-definition.js';
import { createShovelUser, deleteShovelUser, shovelUserName } from '../transfer/shovel-user.js';
import type { TargetCluster } from '../transfer/target-cluster.js';
import { ACTIVE_TRANSFER_STATUSES } from '../transfer/transfer-record.js';
import { TransferStore } from '../transfer/transfer-store.js';
import type { BlueGreenRequest, DrainOptions } from './bluegreen-request.js';
import type { BlueGreenService } from './bluegreen-service.js';
import { auditDrain, type AuditFn } from './drain-audit.js';
import { gatherDrainFigures } from './drain-figures.js';
import { deleteStaleDrainShovels } from './drain-housekeeping.js';
import { DrainMonitor } from './drain-monitor.js';
import { isActiveDrain, newDrainQueue, summaryOf, type DrainRecord, type DrainStatus, type DrainSummary } from './drain-record.js';
import { DrainStore } from './drain-store.js';
import { reconnectTarget, recoverShovelUser, sealTargetPassword, targetClient } from './drain-target.js';
import { drainDetail, type DrainDetail } from './drain-view.js';

export interface DrainServiceOptions {
  audit?: AuditFn;
  /** Monitor interval (default 1000 ms). */
  pollMs?: number;
  /** How long a cancel call waits for the drain to end (default 60 s). */
  cancelWaitMs?: number;
}

export interface DrainAnswer {
  drain_id: string;
  status: DrainStatus;
}

export class DrainService {
  readonly store: DrainStore;
  private readonly running = new Map<string, DrainMonitor>();
  private readonly audit: AuditFn;
  private readonly pollMs: number;
  private readonly cancelWaitMs: number;
  private resuming: Promise<string[]> | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly blueGreen: BlueGreenService,
    options: DrainServiceOptions = {},
  ) {
    this.store = new DrainStore(ctx.mgmt, ctx.seal);
    const log = auditLog(ctx.config.auditLogFile);
    this.audit = options.audit ?? ((entry) => log.record(entry));
    this.pollMs = options.pollMs ?? 1000;
    this.cancelWaitMs = options.cancelWaitMs ?? 60_000;
  }

  // --- start ----------------------------------------------------------------------------------

  async start(request: BlueGreenRequest, options: DrainOptions, who: string): Promise<DrainAnswer> {
    const { vhost } = request;
    if (!(await this.ctx.mgmt.vhost(vhost))) throw new BadRequestError(`vhost '${vhost}' does not exist`);
    await this.refuseBusyVhost(vhost);
    let vhostLock: ClusterLock;
    try {
      vhostLock = await acquireLock(this.ctx, drainVhostLockName(vhost));
    } catch (err) {
      if (err instanceof LockHeldError) throw new BlueGreenInProgressError(vhost, null);
      throw err;
    }
    try {
      const active = (await this.store.list()).find((r) => r.vhost === vhost && isActiveDrain(r.status));
      if (active) throw new BlueGreenInProgressError(vhost, active.id);
      const { plan, target } = await this.blueGreen.applyWith(request, options.reason, who);
      const queues = plan.definitions.queues.map((q) => q.name);
      if (queues.length === 0) {
        await target.close().catch(() => undefined);
        throw new BadRequestError(`vhost '${vhost}' has no queue to drain (the definitions were applied)`);
      }
      return await this.launch(request, options, who, target, queues, plan.target_cluster_name);
    } finally {
      await vhostLock.release();
    }
  }

  /** 409 when a migration or a transfer of this vhost is running (as transfers refuse). */
  private async refuseBusyVhost(vhost: string): Promise<void> {
    const migration = (await this.ctx.store.listRecords()).find((m) => vhostsOf(m).includes(vhost) && ACTIVE_STATUSES.includes(m.status));
    if (migration) throw new InvalidStateError(`migration ${migration.id} is in progress on vhost '${vhost}'; drain it after it finishes`, migration.status);
    const transfer = (await new TransferStore(this.ctx.mgmt, this.ctx.seal).list()).find(
      (x) => x.vhost === vhost && ACTIVE_TRANSFER_STATUSES.includes(x.status),
    );
    if (transfer) throw new InvalidStateError(`transfer ${transfer.id} is in progress on vhost '${vhost}'; drain it after it finishes`, transfer.status);
  }

  private async launch(
    request: BlueGreenRequest,
    options: DrainOptions,
    who: string,
    target: TargetCluster,
    queues: string[],
    clusterName: string,
  ): Promise<DrainAnswer> {
    const { ctx } = this;
    const id = newMigrationId(ctx.nodeName);
    const lock = await acquireLock(ctx, drainLockName(id));
    const sourceCluster = String((await ctx.mgmt.overview()).cluster_name ?? '');
    const at = timestamp();
    const record: DrainRecord = {
      id,
      vhost: request.vhost,
      target: target.url,
      target_cluster_name: clusterName,
      target_user: request.targetUser,
      target_password_box: sealTargetPassword(ctx, id, request.targetPassword),
      target_shovel_user: shovelUserName(sourceCluster, id, DRAIN_USER_PREFIX),
      status: 'draining',
      reason: options.reason,
      who,
      node: ctx.nodeName,
      owner: ctx.instanceId,
      started_at: at,
      ended_at: null,
      updated_at: at,
      idle_seconds: options.idleSeconds,
      remove_source_queues: options.removeSourceQueues,
      cutover_requested_at: null,
      cancel_requested_at: null,
      cutover_by: null,
      cancelled_by: null,
      error: null,
      notes: [],
      totals: { queues: queues.length, idle_queues: 0, source_messages: 0, target_messages: 0 },
      queues: queues.map((name, i) => newDrainQueue(name, drainShovelName(id, i))),
    };
    try {
      // Recorded before the user and the shovels exist: a crash right after leaves names to clean up.
      await this.store.save(record);
      target.useShovelUser(await createShovelUser(target.mgmt, record.target_shovel_user, record.vhost, queues, target.tags.includes('impersonator')));
      for (const q of record.queues) {
        await ctx.mgmt.putShovel(
          record.vhost,
          q.shovel,
          queueLinkShovelDefinition({ vhost: record.vhost, queue: q.name, target, prefetch: ctx.config.transferPrefetch }),
        );
      }
    } catch (err) {
      await this.abortStart(record, target, lock, err);
      throw err;
    }
    auditDrain(this.audit, 'bluegreen_drain_started', record, who, {
      idle_seconds: record.idle_seconds,
      remove_source_queues: record.remove_source_queues,
      target_shovel_user: record.target_shovel_user,
    });
    domainEvents.emit('bluegreen_drain_started', { drain_id: id, vhost: record.vhost, queues: queues.length });
    logger.info('bluegreen: drain started', { drain_id: id, vhost: record.vhost, target: record.target, queues: queues.length });
    this.watch(record, target, lock);
    return { drain_id: id, status: 'draining' };
  }

  /** A start that failed half-way: shovels and user removed, the record failed. */
  private async abortStart(record: DrainRecord, target: TargetCluster, lock: ClusterLock, err: unknown): Promise<void> {
    for (const q of record.queues) await this.ctx.mgmt.deleteShovel(record.vhost, q.shovel).catch(() => undefined);
    await deleteShovelUser(target.mgmt, record.target_shovel_user).catch(() => undefined);
    record.status = 'failed';
    record.error = `the start failed: ${describeError(err)}`;
    for (const q of record.queues) q.state = 'failed';
    record.ended_at = timestamp();
    await this.store.save(record).catch(() => undefined);
    await target.close().catch(() => undefined);
    await lock.release();
    auditDrain(this.audit, 'bluegreen_drain_failed', record, record.who, { error: record.error });
  }

  private watch(record: DrainRecord, target: TargetCluster, lock: ClusterLock): DrainMonitor {
    const monitor = new DrainMonitor(
      { ctx: this.ctx, store: this.store, audit: this.audit, pollMs: this.pollMs, onEnd: () => this.running.delete(record.id) },
      record,
      target,
      lock,
    );
    this.running.set(record.id, monitor);
    monitor.start();
    return monitor;
  }

  // --- reading --------------------------------------------------------------------------------

  private async record(id: string): Promise<DrainRecord> {
    if (!decodeMigrationId(id)) throw new ObjectNotFoundError();
    const live = this.running.get(id);
    if (live) return live.record;
    const stored = await this.store.load(id);
    if (!stored) throw new ObjectNotFoundError();
    return stored;
  }

  async list(): Promise<DrainSummary[]> {
    const stored = await this.store.list();
    return stored.map((r) => summaryOf(this.running.get(r.id)?.record ?? r));
  }

  /** The detail: an active drain's figures read from both brokers now; an ended one's as stored. */
  async status(id: string): Promise<DrainDetail> {
    const record = await this.record(id);
    if (!isActiveDrain(record.status)) return drainDetail(record, null);
    const copy = JSON.parse(JSON.stringify(record)) as DrainRecord;
    const figures = await gatherDrainFigures(
      this.ctx.mgmt,
      targetClient(this.ctx, copy),
      copy.vhost,
      copy.queues.map((q) => q.shovel),
    );
    return drainDetail(copy, figures);
  }

  /** Resolves when this process no longer watches the drain (tests, shutdown). */
  async whenFinished(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  // --- cut-over and cancel ------------------------------------------------------------------

  async cutover(id: string, who: string): Promise<DrainAnswer> {
    const record = await this.record(id);
    if (record.status !== 'draining') throw new DrainStateError(`drain ${id} is ${record.status}: only a draining drain can be cut over`, record.status);
    const live = this.running.get(id);
    if (live) live.requestCutover(who);
    else {
      if (await this.store.requested('cutover', id)) throw new DrainStateError(`a cut-over of drain ${id} was already requested`, 'cutting_over');
      await this.store.request('cutover', id, { requested_at: timestamp(), by: who });
      await this.takeOverIfOrphan(record);
    }
    return { drain_id: id, status: 'cutting_over' };
  }

  async cancel(id: string, who: string): Promise<DrainAnswer> {
    const record = await this.record(id);
    if (!isActiveDrain(record.status)) throw new DrainStateError(`drain ${id} has ended (${record.status})`, record.status);
    const live = this.running.get(id);
    if (live) {
      live.requestCancel(who);
      await Promise.race([live.done, sleep(this.cancelWaitMs, { unref: true })]);
      return { drain_id: id, status: live.record.status };
    }
    await this.store.request('cancel', id, { requested_at: timestamp(), by: who });
    await this.takeOverIfOrphan(record);
    const deadline = Date.now() + this.cancelWaitMs;
    let current: DrainRecord = record;
    while (Date.now() < deadline) {
      const here = this.running.get(id);
      if (here) {
        await Promise.race([here.done, sleep(deadline - Date.now(), { unref: true })]);
        current = here.record;
        break;
      }
      current = (await this.store.load(id)) ?? current;
      if (!isActiveDrain(current.status)) break;
      await sleep(500);
    }
    return { drain_id: id, status: current.status };
  }

  private async takeOverIfOrphan(record: DrainRecord): Promise<void> {
    if (await lockHeld(this.ctx, drainLockName(record.id)).catch(() => true)) return;
    await this.resumeOne(record.id);
  }

  // --- resume and shutdown ------------------------------------------------------------------

  /** Takes every active drain whose lock is free (its sidecar died): answers the ids taken. */
  resume(): Promise<string[]> {
    this.resuming ??= (async () => {
      const taken: string[] = [];
      for (const r of await this.store.list()) {
        if (!isActiveDrain(r.status) || this.running.has(r.id)) continue;
        if (await this.resumeOne(r.id)) taken.push(r.id);
      }
      return taken;
    })().finally(() => (this.resuming = null));
    return this.resuming;
  }

  private async resumeOne(id: string): Promise<boolean> {
    if (this.running.has(id)) return true;
    let lock: ClusterLock;
    try {
      lock = await acquireLock(this.ctx, drainLockName(id));
    } catch (err) {
      if (!(err instanceof LockHeldError)) logger.warn('cannot take a drain lock', { drain_id: id, error: describeError(err) });
      return false;
    }
    let target: TargetCluster | null = null;
    try {
      const record = await this.store.load(id);
      if (!record || !isActiveDrain(record.status) || this.running.has(id)) {
        await lock.release();
        return false;
      }
      target = await reconnectTarget(this.ctx, record);
      const { user, renewed } = await recoverShovelUser(this.ctx, record, target);
      target.useShovelUser(user);
      if (renewed) record.notes.push(`${timestamp()}: no shovel of this drain was left: a new password was set on the temporary user`);
      record.node = this.ctx.nodeName;
      record.owner = this.ctx.instanceId;
      auditDrain(this.audit, 'bluegreen_drain_resumed', record, `qmig:${this.ctx.instanceId}`, { renewed_password: renewed });
      logger.info('bluegreen: drain resumed by this sidecar', { drain_id: id, vhost: record.vhost });
      const monitor = this.watch(record, target, lock);
      await monitor.persist();
      return true;
    } catch (err) {
      logger.warn('cannot resume a drain (trying again at the next housekeeping tick)', { drain_id: id, error: describeError(err) });
      await target?.close().catch(() => undefined);
      await lock.release();
      return false;
    }
  }

  /**
   * The per-sidecar housekeeping step: resume the drains whose lock is free, then delete drain
   * shovels that no active drain explains (drain-housekeeping.ts).
   */
  async housekeeping(): Promise<void> {
    await this.resume();
    const deleted = await deleteStaleDrainShovels(this.ctx.mgmt, this.store);
    if (deleted.length > 0) logger.warn('housekeeping: deleted drain shovels that no active drain explains', { shovels: deleted });
  }

  /** Stops watching (sidecar shutdown): locks released, the shovels run on; another sidecar resumes. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.running.values()].map((m) => m.stop()));
  }
}
