/**
 * One transfer running in this process, from its record (pending) to its final status:
 *   in progress → the vhost on the target → the temporary shovel user → queues, `transferConcurrency`
 *   at a time (queue-transfer.ts) → shovel user deleted → final status, record saved, cancel
 *   request cleared, target closed, lock released, audited.
 * Cancel: a request from another sidecar (`qmig.xfer-cancel.<id>`) is polled with the record's
 * writes (transfer-writer.ts); a queue that has not started when a cancel arrives is cancelled
 * without being touched, the ones in flight stop their shovel (queue-transfer.ts).
 * The run holds the cluster-wide TRANSFER_LOCK (taken by transfer-service.ts) until its end.
 */
import { eachAtMost } from '../async/concurrency.js';
import { describeError } from '../broker/error-description.js';
import type { Context } from '../context.js';
import { domainEvents } from '../events/domain-events.js';
import { logger, type Logger } from '../logging.js';
import type { ClusterLock } from '../state/cluster-lock.js';
import { timestamp } from '../state/records.js';
import { QueueTransfer } from './queue-transfer.js';
import { createShovelUser, deleteLeftoverShovelUsers, deleteShovelUser, shovelUserName } from './shovel-user.js';
import type { TargetCluster } from './target-cluster.js';
import { ensureTargetVhost } from './topology-copy.js';
import { auditFinished, auditQueue, type AuditFn } from './transfer-audit.js';
import { ACTIVE_TRANSFER_STATUSES, finalStatus, type TransferRecord } from './transfer-record.js';
import type { TransferStore } from './transfer-store.js';
import { TransferWriter } from './transfer-writer.js';

/** A transfer this process runs: its live record and whether a cancel was asked. */
export interface RunningTransfer {
  record: TransferRecord;
  cancelRequested: boolean;
  done: Promise<void>;
}

/** Notes a cancel on the record (first request wins) and on the running transfer, if any. */
export function markCancelRequested(record: TransferRecord, running: RunningTransfer | null, by: string, at: string): void {
  if (running) running.cancelRequested = true;
  if (!record.cancel_requested_at) {
    record.cancel_requested_at = at;
    record.cancelled_by = by;
  }
}

export interface TransferRunDeps {
  ctx: Context;
  store: TransferStore;
  audit: AuditFn;
  /** Shovel and cancel polling interval. */
  pollMs: number;
  /** Called last, when the run is over (the service forgets it). */
  onEnd: () => void;
}

export class TransferRun {
  private readonly log: Logger;
  private readonly writer: TransferWriter;

  constructor(
    private readonly deps: TransferRunDeps,
    private readonly running: RunningTransfer,
    private readonly target: TargetCluster,
    private readonly lock: ClusterLock,
  ) {
    const { record } = running;
    this.log = logger.child({ transfer_id: record.id, vhost: record.vhost });
    this.writer = new TransferWriter(deps.store, record, this.log);
  }

  async run(): Promise<void> {
    const { ctx, store } = this.deps;
    const { running, target, writer, log } = this;
    const { record } = running;
    const cancelled = () => running.cancelRequested;

    // Heartbeat + progress writes + cancel requests from other sidecars.
    const poller = writer.startPolling(this.deps.pollMs, async () => {
      if (running.cancelRequested) return;
      const cancel = await store.cancelRequest(record.id).catch(() => null);
      if (cancel) markCancelRequested(record, running, cancel.by, cancel.requested_at);
    });
    this.lock.onLost(() => log.warn('the transfer lock was lost (its AMQP connection closed); the transfer goes on'));

    try {
      record.status = 'in_progress';
      await writer.persist();
      const vhostNote = await ensureTargetVhost(ctx.mgmt, target.mgmt, target.user, record.vhost);
      if (vhostNote) record.notes.push(vhostNote);
      await this.prepareShovelUser();

      const pending = record.queues.map((q, i) => ({ q, i })).filter(({ q }) => q.status === 'pending');
      await eachAtMost(ctx.config.transferConcurrency, pending, async ({ q, i }) => {
        if (running.cancelRequested) {
          q.status = 'cancelled';
          q.notes.push('not started: the transfer was cancelled');
          auditQueue(this.deps.audit, record, q);
          return;
        }
        const queueLog = log.child({ queue: q.name });
        const deps = { ctx, target, record, persist: writer.persist, touch: writer.touch, cancelled, log: queueLog, pollMs: this.deps.pollMs };
        await new QueueTransfer(deps, q, i).run();
        auditQueue(this.deps.audit, record, q);
        await writer.persist();
      });
    } catch (err) {
      const reason = describeError(err);
      record.error = reason;
      log.error('transfer failed', { error: reason });
      for (const q of record.queues) {
        if (q.status === 'pending' || q.status === 'in_progress') {
          q.status = 'failed';
          q.error = `transfer failed before this queue was moved: ${reason}`;
          q.completed_at = timestamp();
          auditQueue(this.deps.audit, record, q);
        }
      }
    } finally {
      await poller.stop();
      await this.finish();
    }
  }

  /** Shovel user deleted, final status written, cancel request cleared, target closed, lock released. */
  private async finish(): Promise<void> {
    const { record } = this.running;
    if (record.target_shovel_user) {
      // Every shovel of this transfer is stopped or finished by now.
      await deleteShovelUser(this.target.mgmt, record.target_shovel_user).catch((err) => {
        this.log.warn('cannot delete the temporary shovel user on the target', { user: record.target_shovel_user, error: (err as Error).message });
        record.notes.push(
          `the temporary shovel user '${record.target_shovel_user}' could not be deleted on the target (${(err as Error).message}); the next transfer to this target deletes it`,
        );
      });
    }
    record.status = record.error ? 'failed' : finalStatus(record);
    record.completed_at = timestamp();
    domainEvents.emit('transfer_finished', { status: record.status });
    try {
      await this.writer.persist();
      await this.deps.store.clearCancel(record.id).catch(() => undefined);
    } finally {
      // A final write the broker refused still frees the lock and the service's entry: the stored
      // record then stays active and is another sidecar's orphan to settle, never held for ever.
      await this.target.close().catch(() => undefined);
      await this.lock.release();
      auditFinished(this.deps.audit, record);
      this.deps.onEnd();
    }
  }

  /**
   * Creates the temporary least-privilege user the shovels log in to the target with (first
   * deleting the leftovers of this cluster's transfers that are no longer active).
   */
  private async prepareShovelUser(): Promise<void> {
    const { ctx, store } = this.deps;
    const { record } = this.running;
    const target = this.target;
    const sourceCluster = String((await ctx.mgmt.overview()).cluster_name ?? '');
    const name = shovelUserName(sourceCluster, record.id);
    const active = (await store.list()).filter((r) => ACTIVE_TRANSFER_STATUSES.includes(r.status)).map((r) => r.id);
    const leftovers = await deleteLeftoverShovelUsers(target.mgmt, sourceCluster, active, name).catch((err) => {
      this.log.warn('cannot look for leftover shovel users on the target', { error: (err as Error).message });
      return [];
    });
    if (leftovers.length > 0)
      record.notes.push(`deleted ${leftovers.length} temporary shovel user(s) left on the target by earlier transfers that did not end cleanly`);
    const queues = record.queues.filter((q) => q.status === 'pending').map((q) => q.name);
    record.target_shovel_user = name; // recorded before it exists: a crash right after leaves a name to clean up
    target.useShovelUser(await createShovelUser(target.mgmt, name, record.vhost, queues, target.tags.includes('impersonator')));
  }
}
