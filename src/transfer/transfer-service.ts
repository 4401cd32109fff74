/**
 * Transfers (xfer): start, list, get, cancel — the API's view of src/transfer.
 *
 * `start` validates everything that can be known up front (request syntax, the vhost here, the
 * shovel plugin, the selection, no migration running on the vhost, one transfer at a time, the
 * target: reachable, credentials accepted, administrator, not this cluster), records the transfer
 * as the global parameter `qmig.xfer.<id>`, answers at once and runs it in the background
 * (transfer-run.ts).
 *
 * One transfer at a time per cluster: the run holds the cluster-wide TRANSFER_LOCK (an
 * exclusive queue, src/state/cluster-lock.ts) for the whole run; a sidecar that died frees it.
 *
 * Cancel works from any sidecar: it writes `qmig.xfer-cancel.<id>`, which the running sidecar
 * polls. When nobody holds the lock any more (the runner died), the cancelling sidecar stops the
 * transfer's shovels itself and closes the record.
 *
 * Every queue that reaches an end (completed, failed, cancelled) writes an audit record
 * (transfer-audit.ts).
 */
import { sleep } from '../async/concurrency.js';
import { TRANSFER_LOCK } from '../broker/names.js';
import type { Context } from '../context.js';
import { BadRequestError, InvalidStateError, ObjectNotFoundError, TransferInProgressError, VhostNotFoundError } from '../errors.js';
import { logger } from '../logging.js';
import { auditLog } from '../state/audit-log.js';
import { ClusterLock, LockHeldError } from '../state/cluster-lock.js';
import { acquireLock, lockHeld } from '../state/lock-guard.js';
import { decodeMigrationId, newMigrationId } from '../state/migration-id.js';
import { ACTIVE_STATUSES, timestamp, vhostsOf } from '../state/records.js';
import { connectTarget, type TargetCluster } from './target-cluster.js';
import { auditCancelRequested, auditQueue, auditStarted, type AuditFn } from './transfer-audit.js';
import {
  ACTIVE_TRANSFER_STATUSES,
  newQueueRecord,
  newTransferRecord,
  recount,
  summaryOf,
  type TransferRecord,
  type TransferStatus,
  type TransferSummary,
} from './transfer-record.js';
import { describeSelection, MAX_QUEUES_PER_TRANSFER, parseTransferRequest, selectTransferQueues } from './transfer-request.js';
import { markCancelRequested, TransferRun, type RunningTransfer } from './transfer-run.js';
import { TransferStore } from './transfer-store.js';

export type { AuditFn } from './transfer-audit.js';

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

export class TransferService {
  readonly store: TransferStore;
  private readonly running = new Map<string, RunningTransfer>();
  private readonly audit: AuditFn;
  private readonly pollMs: number;
  private readonly cancelWaitMs: number;

  constructor(
    private readonly ctx: Context,
    options: TransferServiceOptions = {},
  ) {
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
      throw new BadRequestError(
        'rabbitmq_shovel and rabbitmq_shovel_management must be enabled on this cluster for transfers. Enable them with: rabbitmq-plugins enable rabbitmq_shovel rabbitmq_shovel_management',
      );
    }

    const queues = await this.ctx.mgmt.queues(vhost);
    const { selected, skipped } = selectTransferQueues(queues, request.selection);
    if (selected.length === 0) {
      const why = skipped
        .slice(0, 5)
        .map((s) => `'${s.name}': ${s.reason}`)
        .join('; ');
      throw new BadRequestError(
        `no queue of vhost '${vhost}' can be transferred with ${describeSelection(request.selection)}${why ? ` (${why}${skipped.length > 5 ? '; …' : ''})` : ''}`,
      );
    }
    if (selected.length + skipped.length > MAX_QUEUES_PER_TRANSFER) {
      throw new BadRequestError(
        `${describeSelection(request.selection)} matches ${selected.length + skipped.length} queues; at most ${MAX_QUEUES_PER_TRANSFER} per transfer: split it with queue_names or pattern`,
      );
    }
    const migration = (await this.ctx.store.listRecords()).find((m) => vhostsOf(m).includes(vhost) && ACTIVE_STATUSES.includes(m.status));
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
      record = newTransferRecord({
        id: newMigrationId(this.ctx.nodeName),
        vhost,
        target: target.url,
        target_amqp: target.publicAmqpUri(vhost),
        target_cluster_name: target.identity.clusterName,
        target_user: request.targetUser,
        selection: request.selection,
        remove_source_queue: request.removeSourceQueue,
        reason: request.reason,
        who,
        node: this.ctx.nodeName,
        owner: this.ctx.instanceId,
        queues: [...selected.map((q) => newQueueRecord(q.name)), ...skipped.map((s) => newQueueRecord(s.name, s.reason))],
        at: timestamp(),
      });
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

    auditStarted(this.audit, record);
    const running: RunningTransfer = { record, cancelRequested: false, done: Promise.resolve() };
    const run = new TransferRun(
      { ctx: this.ctx, store: this.store, audit: this.audit, pollMs: this.pollMs, onEnd: () => this.running.delete(record.id) },
      running,
      target,
      lock,
    );
    running.done = run.run().catch((err) => {
      logger.error('transfer runner crashed', { transfer_id: record.id, error: (err as Error).message });
    });
    this.running.set(record.id, running);
    return { transfer_id: record.id, status: 'started' };
  }

  private async activeTransferId(): Promise<string | null> {
    const records = await this.store.list().catch(() => []);
    return records.find((r) => ACTIVE_TRANSFER_STATUSES.includes(r.status))?.id ?? null;
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
      markCancelRequested(live.record, live, who, at);
      auditCancelRequested(this.audit, record, who);
      await Promise.race([live.done, sleep(this.cancelWaitMs, { unref: true })]);
      return answer(await this.get(id));
    }

    await this.store.requestCancel(id, { requested_at: at, by: who });
    auditCancelRequested(this.audit, record, who);
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
    markCancelRequested(record, null, who, at);
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
      auditQueue(this.audit, record, q);
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
    for (const r of all) markCancelRequested(r.record, r, `qmig:${this.ctx.instanceId}`, timestamp());
    await Promise.all(all.map((r) => r.done));
  }
}
