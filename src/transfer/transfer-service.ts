/**
 * Transfers (xfer): start, list, get, cancel — the API's view of src/transfer.
 *
 * `start` validates everything that can be known up front (request syntax, the vhost here, the
 * shovel plugin, the selection, no migration running on the vhost, one transfer at a time, the
 * target: reachable, credentials accepted, administrator, not this cluster), records the transfer
 * as the global parameter `qmig.xfer.<id>`, answers at once and runs it in the background.
 *
 * One transfer at a time per cluster: the runner holds the cluster-wide TRANSFER_LOCK (an
 * exclusive queue, src/state/cluster-lock.ts) for the whole run; a sidecar that died frees it.
 *
 * Cancel works from any sidecar: it writes `qmig.xfer-cancel.<id>`, which the running sidecar
 * polls. When nobody holds the lock any more (the runner died), the cancelling sidecar stops the
 * transfer's shovels itself and closes the record.
 *
 * Every queue that reaches an end (completed, failed, cancelled) writes an audit record with who,
 * what (vhost/queue), where (target, no credentials), why (the reason) and the counts.
 */
import { domainEvents } from '../events/domain-events.js';
import type { Context } from '../context.js';
import { BadRequestError, BrokerRequestError, ObjectNotFoundError, TransferInProgressError, VhostNotFoundError, InvalidStateError } from '../errors.js';
import { logger } from '../logging.js';
import { ClusterLock, LockHeldError } from '../state/cluster-lock.js';
import { acquireLock, lockHeld } from '../state/lock-guard.js';
import { auditLog, type AuditEntry } from '../state/audit-log.js';
import { decodeMigrationId, newMigrationId } from '../state/migration-id.js';
import { ACTIVE_STATUSES, timestamp } from '../state/records.js';
import { connectTarget, type TargetCluster } from './target-cluster.js';
import { createShovelUser, deleteLeftoverShovelUsers, deleteShovelUser, shovelUserName } from './shovel-user.js';
import { ensureTargetVhost } from './topology-copy.js';
import {
  ACTIVE_TRANSFER_STATUSES,
  finalStatus,
  newQueueRecord,
  recount,
  summaryOf,
  type TransferQueueRecord,
  type TransferRecord,
  type TransferStatus,
  type TransferSummary,
} from './transfer-record.js';
import { describeSelection, MAX_QUEUES_PER_TRANSFER, parseTransferRequest, selectTransferQueues } from './transfer-request.js';
import { QueueTransfer } from './transfer-runner.js';
import { TransferStore } from './transfer-store.js';
import { TRANSFER_LOCK } from '../broker/names.js';

export type AuditFn = (entry: AuditEntry) => unknown;

export interface TransferServiceOptions {
  /** Where audit records go (default: src/state/audit-log.ts with QMIG_AUDIT_LOG). */
  audit?: AuditFn;
  /** Shovel and cancel polling interval. */
  pollMs?: number;
  /** How long `cancel` waits for the transfer to stop before answering. */
  cancelWaitMs?: number;
}

export interface CancelResult {
  transfer_id: string;
  status: TransferStatus;
  cancel_requested: boolean;
}

interface RunningTransfer {
  record: TransferRecord;
  cancelRequested: boolean;
  done: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TransferService {
  readonly store: TransferStore;
  private readonly running = new Map<string, RunningTransfer>();
  private readonly audit: AuditFn;
  private readonly pollMs: number;
  private readonly cancelWaitMs: number;

  constructor(private readonly ctx: Context, options: TransferServiceOptions = {}) {
    this.store = new TransferStore(ctx.mgmt, ctx.seal);
    const log = auditLog(ctx.config.auditLogFile);
    this.audit = options.audit ?? ((entry) => log.record(entry));
    this.pollMs = options.pollMs ?? 500;
    this.cancelWaitMs = options.cancelWaitMs ?? 30_000;
  }

  // --- start ----------------------------------------------------------------------------

  async start(body: Record<string, unknown>, who: string): Promise<{ transfer_id: string; status: 'started' }> {
    const request = parseTransferRequest(body);
    const { vhost } = request;
    if (!(await this.ctx.mgmt.vhost(vhost))) throw new VhostNotFoundError(vhost);
    const shovels = await this.ctx.mgmt.request('GET', '/shovels');
    if (shovels.status === 404) {
      throw new BadRequestError('rabbitmq_shovel and rabbitmq_shovel_management must be enabled on this cluster for transfers. Enable them with: rabbitmq-plugins enable rabbitmq_shovel rabbitmq_shovel_management');
    }

    const queues = await this.ctx.mgmt.queues(vhost);
    const { selected, skipped } = selectTransferQueues(queues, request.selection);
    if (selected.length === 0) {
      const why = skipped.slice(0, 5).map((s) => `'${s.name}': ${s.reason}`).join('; ');
      throw new BadRequestError(`no queue of vhost '${vhost}' can be transferred with ${describeSelection(request.selection)}${why ? ` (${why}${skipped.length > 5 ? '; …' : ''})` : ''}`);
    }
    if (selected.length + skipped.length > MAX_QUEUES_PER_TRANSFER) {
      throw new BadRequestError(`${describeSelection(request.selection)} matches ${selected.length + skipped.length} queues; at most ${MAX_QUEUES_PER_TRANSFER} per transfer: split it with queue_names or pattern`);
    }
    const migration = (await this.ctx.store.listRecords()).find((m) => m.vhost === vhost && ACTIVE_STATUSES.includes(m.status));
    if (migration) {
      throw new InvalidStateError(`migration ${migration.id} is in progress on vhost '${vhost}'; transfer its queues after it finishes`, migration.status);
    }

    let lock: ClusterLock;
    try {
      lock = await acquireLock(this.ctx, TRANSFER_LOCK);
    } catch (err) {
      if (err instanceof LockHeldError) throw new TransferInProgressError(await this.activeTransferId());
      throw err;
    }

    let target: TargetCluster;
    let record: TransferRecord;
    try {
      target = await connectTarget(this.ctx, request);
      const now = timestamp();
      record = {
        id: newMigrationId(this.ctx.nodeName),
        vhost,
        target: target.url,
        target_amqp: target.publicAmqpUri(vhost),
        target_cluster_name: target.identity.clusterName,
        target_user: request.targetUser,
        target_shovel_user: null,
        selection: request.selection,
        remove_source_queue: request.removeSourceQueue,
        reason: request.reason,
        who,
        node: this.ctx.nodeName,
        owner: this.ctx.instanceId,
        status: 'pending',
        started_at: now,
        completed_at: null,
        updated_at: now,
        cancel_requested_at: null,
        cancelled_by: null,
        total_queues: 0,
        completed_queues: 0,
        failed_queues: 0,
        cancelled_queues: 0,
        skipped_queues: 0,
        expected_messages: 0,
        moved_messages: 0,
        error: null,
        notes: [],
        queues: [...selected.map((q) => newQueueRecord(q.name)), ...skipped.map((s) => newQueueRecord(s.name, s.reason))],
      };
      if (!target.tags.includes('impersonator')) {
        record.notes.push(
          `target user '${target.user}' has no impersonator tag: the target refuses a message whose user_id property is set to another user; such a queue fails and its remaining messages stay at the source`,
        );
      }
      recount(record);
      await this.store.save(record);
    } catch (err) {
      await lock.release();
      throw err;
    }

    this.audit({
      action: 'xfer_started',
      migration_id: record.id,
      vhost,
      who,
      details: { transfer_id: record.id, target: record.target, target_amqp: record.target_amqp, reason: record.reason, selection: record.selection, remove_source_queue: record.remove_source_queue, queues: record.total_queues },
    });
    const running: RunningTransfer = { record, cancelRequested: false, done: Promise.resolve() };
    running.done = this.run(running, target, lock).catch((err) => {
      logger.error('transfer runner crashed', { transfer_id: record.id, error: (err as Error).message });
    });
    this.running.set(record.id, running);
    return { transfer_id: record.id, status: 'started' };
  }

  private async activeTransferId(): Promise<string | null> {
    const records = await this.store.list().catch(() => []);
    return records.find((r) => ACTIVE_TRANSFER_STATUSES.includes(r.status))?.id ?? null;
  }

  // --- the background run ------------------------------------------------------------------

  private async run(running: RunningTransfer, target: TargetCluster, lock: ClusterLock): Promise<void> {
    const { record } = running;
    const log = logger.child({ transfer_id: record.id, vhost: record.vhost });
    let writes: Promise<void> = Promise.resolve();
    let dirty = false;
    const persist = (): Promise<void> => {
      dirty = false;
      record.updated_at = timestamp();
      recount(record);
      const snapshot = JSON.parse(JSON.stringify(record)) as TransferRecord;
      writes = writes.catch(() => undefined).then(() => this.store.save(snapshot));
      return writes.catch((err) => {
        log.warn('cannot save the transfer record', { error: (err as Error).message });
      });
    };
    const touch = () => {
      dirty = true;
    };
    const cancelled = () => running.cancelRequested;

    // Heartbeat + progress writes + cancel requests from other sidecars.
    let stop = false;
    const poller = (async () => {
      let lastWrite = Date.now();
      while (!stop) {
        await sleep(Math.min(this.pollMs, 1000));
        if (stop) break;
        if (!running.cancelRequested) {
          const cancel = await this.store.cancelRequest(record.id).catch(() => null);
          if (cancel) this.markCancelRequested(record, running, cancel.by, cancel.requested_at);
        }
        if (dirty || Date.now() - lastWrite > 5000) {
          lastWrite = Date.now();
          await persist();
        }
      }
    })();
    lock.onLost(() => log.warn('the transfer lock was lost (its AMQP connection closed); the transfer goes on'));

    try {
      record.status = 'in_progress';
      await persist();
      const vhostNote = await ensureTargetVhost(this.ctx.mgmt, target.mgmt, target.user, record.vhost);
      if (vhostNote) record.notes.push(vhostNote);
      await this.prepareShovelUser(record, target, log);

      const pending = record.queues.map((q, i) => ({ q, i })).filter(({ q }) => q.status === 'pending');
      const worker = async () => {
        for (;;) {
          const next = pending.shift();
          if (!next) return;
          if (running.cancelRequested) {
            next.q.status = 'cancelled';
            next.q.notes.push('not started: the transfer was cancelled');
            this.auditQueue(record, next.q);
            continue;
          }
          const queueLog = log.child({ queue: next.q.name });
          await new QueueTransfer({ ctx: this.ctx, target, record, persist, touch, cancelled, log: queueLog, pollMs: this.pollMs }, next.q, next.i).run();
          this.auditQueue(record, next.q);
          await persist();
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.ctx.config.transferConcurrency, Math.max(1, pending.length)) }, worker));
    } catch (err) {
      const reason = err instanceof BrokerRequestError ? `${err.method} ${err.path} answered ${err.status}: ${err.brokerReason}` : (err as Error).message;
      record.error = reason;
      log.error('transfer failed', { error: reason });
      for (const q of record.queues) {
        if (q.status === 'pending' || q.status === 'in_progress') {
          q.status = 'failed';
          q.error = `transfer failed before this queue was moved: ${reason}`;
          q.completed_at = timestamp();
          this.auditQueue(record, q);
        }
      }
    } finally {
      stop = true;
      await poller;
      if (record.target_shovel_user) {
        // Every shovel of this transfer is stopped or finished by now.
        await deleteShovelUser(target.mgmt, record.target_shovel_user).catch((err) => {
          log.warn('cannot delete the temporary shovel user on the target', { user: record.target_shovel_user, error: (err as Error).message });
          record.notes.push(`the temporary shovel user '${record.target_shovel_user}' could not be deleted on the target (${(err as Error).message}); the next transfer to this target deletes it`);
        });
      }
      record.status = record.error ? 'failed' : finalStatus(record);
      record.completed_at = timestamp();
      domainEvents.emit('transfer_finished', { status: record.status });
      await persist();
      await this.store.clearCancel(record.id).catch(() => undefined);
      await target.close().catch(() => undefined);
      await lock.release();
      this.audit({
        action: 'xfer_finished',
        migration_id: record.id,
        vhost: record.vhost,
        who: record.who,
        details: {
          transfer_id: record.id,
          status: record.status,
          target: record.target,
          reason: record.reason,
          completed_queues: record.completed_queues,
          failed_queues: record.failed_queues,
          cancelled_queues: record.cancelled_queues,
          skipped_queues: record.skipped_queues,
          expected_messages: record.expected_messages,
          moved_messages: record.moved_messages,
        },
      });
      this.running.delete(record.id);
    }
  }

  /**
   * Creates the temporary least-privilege user the shovels log in to the target with (first
   * deleting the leftovers of this cluster's transfers that are no longer active).
   */
  private async prepareShovelUser(record: TransferRecord, target: TargetCluster, log: typeof logger): Promise<void> {
    const sourceCluster = String((await this.ctx.mgmt.overview()).cluster_name ?? '');
    const name = shovelUserName(sourceCluster, record.id);
    const active = (await this.store.list()).filter((r) => ACTIVE_TRANSFER_STATUSES.includes(r.status)).map((r) => r.id);
    const leftovers = await deleteLeftoverShovelUsers(target.mgmt, sourceCluster, active, name).catch((err) => {
      log.warn('cannot look for leftover shovel users on the target', { error: (err as Error).message });
      return [];
    });
    if (leftovers.length > 0) record.notes.push(`deleted ${leftovers.length} temporary shovel user(s) left on the target by earlier transfers that did not end cleanly`);
    const queues = record.queues.filter((q) => q.status === 'pending').map((q) => q.name);
    record.target_shovel_user = name; // recorded before it exists: a crash right after leaves a name to clean up
    target.useShovelUser(await createShovelUser(target.mgmt, name, record.vhost, queues, target.tags.includes('impersonator')));
  }

  private markCancelRequested(record: TransferRecord, running: RunningTransfer | null, by: string, at: string): void {
    if (running) running.cancelRequested = true;
    if (!record.cancel_requested_at) {
      record.cancel_requested_at = at;
      record.cancelled_by = by;
    }
  }

  private auditQueue(record: TransferRecord, q: TransferQueueRecord): void {
    this.audit({
      action: 'xfer_queue',
      migration_id: record.id,
      queue: q.name,
      vhost: record.vhost,
      who: record.who,
      details: {
        transfer_id: record.id,
        status: q.status,
        target: record.target,
        target_amqp: record.target_amqp,
        reason: record.reason,
        expected_messages: q.expected_messages,
        moved_messages: q.moved_messages,
        left_at_source: q.left_at_source,
        source_removed: q.source_removed,
        error: q.error,
      },
    });
  }

  // --- reading -----------------------------------------------------------------------------

  /** Every transfer, newest first, without per-queue details. */
  async list(): Promise<TransferSummary[]> {
    const stored = await this.store.list();
    return stored.map((r) => summaryOf(this.running.get(r.id)?.record ?? r));
  }

  /** The transfer with its queues; 404 for an unknown or undecodable id. */
  async get(id: string): Promise<TransferRecord> {
    if (!decodeMigrationId(id)) throw new ObjectNotFoundError();
    const live = this.running.get(id);
    if (live) {
      recount(live.record);
      return JSON.parse(JSON.stringify(live.record)) as TransferRecord;
    }
    const record = await this.store.load(id);
    if (!record) throw new ObjectNotFoundError();
    return record;
  }

  /** Resolves when the transfer runs no more in this process (tests, shutdown). */
  async whenFinished(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  // --- cancel ------------------------------------------------------------------------------

  /**
   * Stops a transfer cleanly: no queue starts any more, the shovel of a queue being moved is
   * deleted, moved messages stay moved, no source queue of a cancelled queue is removed.
   * Idempotent: a finished or cancelled transfer answers its status.
   */
  async cancel(id: string, who: string): Promise<CancelResult> {
    const record = await this.get(id);
    const answer = (r: TransferRecord): CancelResult => ({ transfer_id: r.id, status: r.status, cancel_requested: !!r.cancel_requested_at });
    if (!ACTIVE_TRANSFER_STATUSES.includes(record.status)) return answer(record);

    const at = timestamp();
    const live = this.running.get(id);
    if (live) {
      this.markCancelRequested(live.record, live, who, at);
      this.audit({ action: 'xfer_cancel_requested', migration_id: id, vhost: record.vhost, who, details: { transfer_id: id } });
      await Promise.race([live.done, sleep(this.cancelWaitMs)]);
      return answer(await this.get(id));
    }

    await this.store.requestCancel(id, { requested_at: at, by: who });
    this.audit({ action: 'xfer_cancel_requested', migration_id: id, vhost: record.vhost, who, details: { transfer_id: id } });
    if (!(await lockHeld(this.ctx, TRANSFER_LOCK))) {
      return answer(await this.cancelOrphan(record, who, at));
    }
    const deadline = Date.now() + this.cancelWaitMs;
    let current = record;
    while (Date.now() < deadline) {
      await sleep(500);
      current = (await this.store.load(id)) ?? current;
      if (!ACTIVE_TRANSFER_STATUSES.includes(current.status)) break;
    }
    return answer(current);
  }

  /**
   * The sidecar that ran this transfer is gone (nobody holds the lock): stop its shovels here and
   * close the record. Counts of queues that were in progress are the last ones it recorded.
   */
  private async cancelOrphan(record: TransferRecord, who: string, at: string): Promise<TransferRecord> {
    this.markCancelRequested(record, null, who, at);
    for (const q of record.queues) {
      if (q.status === 'in_progress') {
        if (q.shovel) await this.ctx.mgmt.deleteShovel(record.vhost, q.shovel).catch(() => undefined);
        q.shovel = null;
        q.status = 'cancelled';
        q.left_at_source = await this.ctx.amqp.messageCount(record.vhost, q.name).catch(() => null);
        q.notes.push('the sidecar running this transfer stopped; cancelled by another sidecar (moved count as last recorded)');
      } else if (q.status === 'pending') {
        q.status = 'cancelled';
        q.notes.push('not started: the transfer was cancelled');
      } else continue;
      q.completed_at = timestamp();
      this.auditQueue(record, q);
    }
    recount(record);
    record.status = 'cancelled';
    record.completed_at = timestamp();
    record.updated_at = record.completed_at;
    await this.store.save(record);
    await this.store.clearCancel(record.id).catch(() => undefined);
    return record;
  }

  /** Cancels what runs in this process (shutdown): the shovels are stopped, records closed. */
  async shutdown(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) this.markCancelRequested(r.record, r, `qmig:${this.ctx.instanceId}`, timestamp());
    await Promise.all(all.map((r) => r.done));
  }
}
