/**
 * One migration running in this process, from its first step (or from where a dead sidecar left
 * it) to its final status:
 *   snapshots (new runs) → clients fenced (state saved first) → queues, `concurrency` at a time,
 *   spread over the nodes → clients let back in → final status, record saved, lock released.
 * - a run over several vhosts (record.vhosts) takes them one after the other, each fenced only
 *   while its own queues move: fence → queues → clients back, then the next vhost; the next one
 *   starts only when every client of the previous one is back, and not after an interrupt.
 * - interrupt (a sealed global parameter any sidecar may write, or the local flag): checked before each
 *   queue starts; queues in flight finish, the rest become `skipped` / `interrupted`.
 * - a failed queue: no new queue starts, the ones in flight finish, status `rollback_pending`;
 *   except a queue that failed while a resumed run removed what the dead owner left (before
 *   this run took a step on it): the other queues go on, and the end status counts it as failed.
 * - leftover shovels of a resumed run are removed one at a time across the queues (cleanupPace).
 * - a memory or disk alarm: no new queue starts while one is raised (status `paused`, alarm-pause.ts).
 * - the cluster lock is lost: re-acquired at once; if another sidecar holds it, this run stops
 *   taking steps and leaves the record to that sidecar.
 * Collaborators: ClientFence (client-fencing.ts), InterruptFlag (interrupt-flag.ts), one
 * QueueMigrator per queue (queue-runner.ts), MigrationStateWriter (state-writer.ts); every status
 * change goes through status.ts.
 */
import type { Context } from '../context.js';
import type { ManagementClient } from '../broker/management-client.js';
import { Pace } from '../broker/pace.js';
import { serviceManagementClient } from '../broker/service-clients.js';
import { logger, type Logger } from '../logging.js';
import { deleteSnapshots, takeSnapshots } from '../snapshots/index.js';
import { auditLog, type AuditEntry } from '../state/audit-log.js';
import { ClusterLock, LockHeldError } from '../state/cluster-lock.js';
import { acquireLock } from '../state/lock-guard.js';
import { kindOf, timestamp, vhostsOf, type MigrationRecord, type QueueRecord } from '../state/records.js';
import type { LiveMigration } from '../state/live-registry.js';
import { recordRollbackOutcome } from './rollback-outcome.js';
import { recordRepairOutcome } from './repair-outcome.js';
import { interleaveByNode } from '../checks/queue-selection.js';
import type { EngineHooks } from './engine-hooks.js';
import { RunAbortedError } from './queue-errors.js';
import { QueueMigrator } from './queue-runner.js';
import { MigrationStateWriter } from './state-writer.js';
import { toleranceFor } from './verifier.js';
import { ClientFence } from './client-fencing.js';
import { restoreFromVault } from './fence-restore.js';
import { InterruptFlag } from './interrupt-flag.js';
import { AlarmGate, readClusterAlarms } from './alarm-pause.js';
import { markMigrationEnded, markMigrationPaused, markMigrationResumed, markMigrationUnpaused, markQueueSkipped, recount, type EndStatus } from './status.js';
import { sleep } from '../async/concurrency.js';
import { MIGRATION_LOCK, TEMPORARY_PREFIX, interruptParameter } from '../broker/names.js';

export interface RunOptions {
  resumed: boolean;
  who: string;
  hooks?: EngineHooks;
}

const LOCK_RETRIES = 10;
/** Leftover shovels are removed one at a time, at least this far apart (see removeShovels in shovels.ts). */
const CLEANUP_GAP_MS = 50;

export class MigrationRun {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private stopReason: 'interrupt' | 'failure' | null = null;
  private abortReason: string | null = null;
  private lockPause: Promise<void> | null = null;
  private finished = false;
  private readonly writer: MigrationStateWriter;
  private readonly log: Logger;
  /** The service account with the migration's (longer) request timeout. */
  private readonly mgmt: ManagementClient;
  private readonly cleanupPace = new Pace(1, CLEANUP_GAP_MS);
  /** The fence of the vhost whose queues move now (one per vhost, see runVhosts). */
  private clients: ClientFence | null = null;
  private readonly interrupt: InterruptFlag;
  private readonly alarms: AlarmGate | null;
  /** The start's `deadline` passed: no queue starts any more (an interrupt of its own). */
  private deadlineReached = false;
  private deadlineTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: Context,
    readonly record: MigrationRecord,
    readonly queues: QueueRecord[],
    private lock: ClusterLock,
    private readonly options: RunOptions,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.writer = new MigrationStateWriter(ctx.store, record, queues);
    this.log = logger.child({ migration_id: record.id, vhost: record.vhost });
    const c = ctx.config;
    this.mgmt = serviceManagementClient(c, { timeoutMs: Math.max(c.brokerTimeoutMs, c.migrationBrokerTimeoutMs), log: this.log });
    this.interrupt = new InterruptFlag(ctx, record, this.log);
    this.alarms = c.alarmCheckSeconds > 0 ? this.alarmGate(c.alarmCheckSeconds * 1000) : null;
  }

  /** Pause on alarm (alarm-pause.ts): the status, the audit line and the note of each pause. */
  private alarmGate(intervalMs: number): AlarmGate {
    return new AlarmGate({
      intervalMs,
      readAlarms: () => readClusterAlarms(this.mgmt),
      paused: async (reason) => {
        markMigrationPaused(this.record, reason);
        this.log.warn('migration paused: a resource alarm blocks publishing; it goes on when every alarm has cleared', { reason });
        this.audit({ action: 'migration_paused', details: { reason } });
        await this.writer.saveRecord();
      },
      resumed: async (reason, pausedMs) => {
        const seconds = Math.round(pausedMs / 1000);
        markMigrationUnpaused(this.record, `paused ${seconds} s at ${timestamp()} (${reason})`);
        this.log.info('migration goes on after a pause', { reason, paused_seconds: seconds });
        this.audit({ action: 'migration_unpaused', details: { reason, paused_seconds: seconds } });
        await this.writer.saveRecord();
      },
      stopWaiting: async () => this.aborted || this.stopReason !== null || (await this.interrupt.requested()),
      readFailed: (err) => this.log.warn("cannot read the nodes' alarms; the queue starts anyway", { error: (err as Error).message }),
    });
  }

  get id(): string {
    return this.record.id;
  }

  private get liveEntry(): LiveMigration {
    this.live ??= { record: this.record, queues: this.queues };
    return this.live;
  }
  private live: LiveMigration | null = null;

  /** Starts in the background; never rejects (the outcome is in the record). */
  start(): this {
    this.ctx.live.add(this.liveEntry);
    this.watchLock(this.lock);
    void this.run().finally(() => this.resolveDone());
    return this;
  }

  interruptLocally(): void {
    this.interrupt.setLocally();
  }

  /** This process stops taking steps (shutdown, lock taken); the record stays for a resumer. */
  abort(reason: string): void {
    if (this.abortReason || this.finished) return;
    this.abortReason = reason;
    this.writer.disable();
    // Readers of this sidecar answer from the store from now on: the record is the resumer's,
    // and this copy stops changing (it said in_progress for as long as a step took to return —
    // measured after a whole-cluster restart: minutes after another sidecar completed the run).
    this.ctx.live.remove(this.record.id, this.liveEntry);
    this.log.warn('migration run stops taking steps; another sidecar will resume it', { reason });
  }

  get aborted(): boolean {
    return this.abortReason !== null;
  }

  /** The fence of `vhost` (its audit lines name that vhost). */
  private fenceOf(vhost: string): ClientFence {
    return new ClientFence({
      ctx: this.ctx,
      record: this.record,
      vhost,
      mgmt: this.mgmt,
      writer: this.writer,
      log: this.log.child({ vhost }),
      resumed: this.options.resumed,
      hooks: this.options.hooks,
      audit: (e) => this.audit({ ...e, vhost }),
      stopped: () => this.finished || this.aborted,
    });
  }

  private audit(entry: Omit<AuditEntry, 'who' | 'migration_id' | 'vhost'> & { who?: string; vhost?: string }): void {
    auditLog(this.ctx.config.auditLogFile).record({ migration_id: this.record.id, vhost: this.record.vhost, who: this.options.who, ...entry });
  }

  // --- the run ------------------------------------------------------------------------------

  private async run(): Promise<void> {
    this.armDeadline();
    try {
      if (this.options.resumed) {
        markMigrationResumed(this.record, this.ctx.instanceId);
        this.record.notes.push(`resumed by ${this.ctx.instanceId} at ${timestamp()} after its sidecar stopped`);
        this.audit({ action: 'migration_resumed', details: { owner: this.ctx.instanceId } });
        await this.writer.saveRecord();
      } else {
        try {
          this.record.snapshots = await takeSnapshots(this.ctx, this.record.id);
        } catch (err) {
          await this.end('failed', `Snapshot failed before any queue was touched: ${(err as Error).message}`);
          return;
        }
        await this.writer.saveRecord();
      }
      if (this.aborted) return;
      await this.options.hooks?.atPoint?.({ migrationId: this.record.id, point: 'before_fence' });
      await this.runVhosts();
      if (this.aborted) return;
      await this.conclude();
    } catch (err) {
      if (this.aborted || err instanceof RunAbortedError) return;
      const message = (err as Error)?.message ?? String(err);
      this.log.error('migration run failed', { error: message });
      const touched = this.queues.some((q) => q.status === 'completed' || q.status === 'failed' || (q.status === 'in_progress' && q.original));
      for (const q of this.queues) if (q.status === 'pending') markQueueSkipped(q, 'not started: the migration stopped on an error');
      await this.end(touched ? 'rollback_pending' : 'failed', `Migration stopped: ${message}`).catch((e) =>
        this.log.error('cannot record the end of the migration', { error: (e as Error).message }),
      );
    } finally {
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      this.clients?.stopSweeping();
      this.ctx.live.remove(this.record.id, this.liveEntry);
      await this.lock.release().catch(() => undefined);
    }
  }

  /**
   * The vhosts of the run in order, each fenced only while its own queues move. A single-vhost
   * run is one pass of this loop (its fence is lifted by end()). Of several, a vhost is left
   * (clients back) before the next is fenced; the last one's fence is lifted by end().
   */
  private async runVhosts(): Promise<void> {
    const vhosts = vhostsOf(this.record);
    const single = vhosts.length === 1;
    // Read once per run: the temporary queues' replicas are chosen from it (queue-work.ts temporaryReplicas).
    const runningNodes = (await this.mgmt.nodes()).filter((n) => n.running).length;
    this.log.info('running nodes counted (temporary queues get a replica on each, up to three)', { running_nodes: runningNodes });
    for (const [n, vhost] of vhosts.entries()) {
      const group = this.queues.flatMap((q, i) => (single || q.vhost === vhost ? [i] : []));
      const open = group.some((i) => this.queues[i].status === 'pending' || this.queues[i].status === 'in_progress');
      if (!single && !open) {
        // Done before (a resumed run): a dead owner may have left its clients out.
        if (this.options.resumed) await this.letClientsBack(vhost);
        continue;
      }
      if (n > 0) {
        if (this.aborted || this.stopReason) return;
        if (await this.interrupt.requested()) {
          this.stopReason = 'interrupt';
          return;
        }
        const notBack = (await this.ctx.vault.entries(this.record.id)).filter((e) => e.vhost !== vhost);
        if (notBack.length > 0) {
          this.record.notes.push(
            `vhost '${vhost}' not started: ${notBack.length} permission(s) of the vhosts before it are not restored yet (${[...new Set(notBack.map((e) => e.vhost))].join(', ')}); only one vhost is fenced at a time`,
          );
          this.stopReason = 'interrupt';
          return;
        }
        this.log.info('next vhost of the run', { vhost });
      }
      this.clients = this.fenceOf(vhost);
      await this.clients.fence();
      await this.runQueues(group, vhost, runningNodes);
      if (this.aborted || this.stopReason || n === vhosts.length - 1) return;
      // Clients of this vhost back before the next vhost is fenced.
      await this.clients.unfence();
      await this.writer.saveRecord();
    }
  }

  /** Puts back what the vault still holds for `vhost` (a resumed run over vhosts done before). */
  private async letClientsBack(vhost: string): Promise<void> {
    try {
      const outcome = await restoreFromVault(this.mgmt, this.ctx.vault, this.record.id, vhost, {
        restored: (user) => this.audit({ action: 'restore_permission', vhost, details: { user } }),
      });
      for (const f of outcome.failed) this.record.notes.push(`permission of user '${f.user}' on '${vhost}' not restored: ${f.reason}`);
    } catch (err) {
      // Not a verdict on the run: what stays in the vault keeps the next vhost unfenced (runVhosts
      // stops there), and housekeeping puts it back once the run has ended.
      this.record.notes.push(`client access to '${vhost}' not restored yet (housekeeping retries): ${(err as Error).message}`);
      this.log.error('cannot restore client access', { vhost, error: (err as Error).message });
    }
  }

  private async runQueues(group: number[], vhost: string, runningNodes: number): Promise<void> {
    const inFlight: number[] = [];
    const pending: number[] = [];
    for (const i of group) {
      const q = this.queues[i];
      if (q.status === 'in_progress') inFlight.push(i);
      else if (q.status === 'pending') pending.push(i);
    }
    const nodeOf = (i: number) => this.queues[i].original?.node ?? this.queues[i].detail.node ?? null;
    // Queues that were in flight when the previous owner died finish first, interrupt or not.
    const order = [...inFlight, ...interleaveByNode(pending, nodeOf)];
    const resumeSet = new Set(inFlight);
    const preexisting = new Set((await this.mgmt.queues(vhost, ['name'])).map((q) => q.name).filter((n) => n.startsWith(TEMPORARY_PREFIX)));
    let next = 0;
    let crashed = false;
    const worker = async () => {
      try {
        await loop();
      } catch (err) {
        crashed = true;
        throw err;
      }
    };
    const loop = async () => {
      for (;;) {
        if (crashed) return;
        if (this.lockPause) await this.lockPause;
        if (this.aborted || this.stopReason) return;
        if (next < order.length && this.alarms) await this.alarms.pass();
        if (this.aborted || this.stopReason) return;
        // Claimed before any await, so that no two workers take the same queue.
        const i = order[next++];
        if (i === undefined) return;
        if (!resumeSet.has(i) && (await this.interrupt.requested())) {
          this.stopReason ??= 'interrupt';
          return;
        }
        // Not started (still pending) when the run stops meanwhile: conclude() skips it.
        if (this.aborted || this.stopReason) return;
        // A queue that already went through steps (a repair's failed queue) resumes from what the broker shows.
        await this.runQueue(i, resumeSet.has(i) || this.queues[i].phase !== 'pending', preexisting, runningNodes);
      }
    };
    // Every worker ends its current step before this returns, even when one of them throws.
    const outcomes = await Promise.allSettled(Array.from({ length: Math.max(1, this.ctx.config.concurrency) }, worker));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure) throw failure.reason;
  }

  private async runQueue(index: number, resume: boolean, preexisting: Set<string>, runningNodes: number): Promise<void> {
    const q = this.queues[index];
    const migrator = new QueueMigrator(
      {
        ctx: this.ctx,
        mgmt: this.mgmt,
        migration: this.record,
        tolerance: toleranceFor(this.record.options),
        writer: this.writer,
        log: this.log.child({ vhost: q.vhost }),
        who: this.options.who,
        audit: (e) => this.audit({ ...e, vhost: q.vhost }),
        shouldAbort: () => this.aborted,
        hooks: this.options.hooks,
        preexistingTemporaryQueues: preexisting,
        cleanupPace: this.cleanupPace,
        runningNodes,
      },
      q,
      index,
    );
    await migrator.run(resume);
    if (q.status === 'failed' && !migrator.failedInResumeCleanup) this.stopReason = 'failure';
    recount(this.record, this.queues);
    // Counters are live in memory (ctx.live); the stored record follows within a second.
    this.writer.touchRecord();
  }

  /**
   * The window closes at the start's `deadline` (a resumed run keeps it): from then on it is an
   * interrupt — queues in flight finish, the rest are skipped, and the notes say what remains.
   */
  private armDeadline(): void {
    const deadline = this.record.options.deadline;
    if (!deadline) return;
    const reached = () => {
      if (this.deadlineReached || this.finished) return;
      this.deadlineReached = true;
      this.interrupt.setLocally();
      this.log.warn('deadline reached: no queue starts any more; queues in flight finish', { deadline });
      this.audit({ action: 'deadline_reached', details: { deadline } });
    };
    // setTimeout holds at most 2^31-1 ms (24.8 days): a later deadline re-arms.
    const arm = () => {
      const ms = Date.parse(deadline) - Date.now();
      if (ms <= 0) reached();
      else this.deadlineTimer = setTimeout(arm, Math.min(ms, 2 ** 31 - 1)).unref();
    };
    arm();
  }

  private async conclude(): Promise<void> {
    const failed = this.queues.filter((q) => q.status === 'failed');
    const interrupted = this.stopReason === 'interrupt' || this.record.interrupt_requested;
    if (this.deadlineReached) {
      const several = vhostsOf(this.record).length > 1;
      const left = this.queues.filter((q) => q.status === 'pending').map((q) => (several ? `${q.vhost}/${q.name}` : q.name));
      const shown = left.length > 20 ? `${left.slice(0, 20).join(', ')} and ${left.length - 20} more` : left.join(', ');
      this.record.notes.push(
        left.length > 0
          ? `deadline ${this.record.options.deadline} reached: ${left.length} queue(s) not migrated (skipped, still mirrored classic): ${shown}`
          : `deadline ${this.record.options.deadline} reached after the last queue had started`,
      );
    }
    for (const q of this.queues) {
      if (q.status !== 'pending') continue;
      markQueueSkipped(q, failed.length > 0 ? 'not started: the migration stopped after a queue failed' : 'interrupted');
    }
    if (failed.length > 0) {
      const summary = failed.map((q) => `${q.name}: ${q.error}`).join('; ');
      await this.end('rollback_pending', `${failed.length} queue(s) failed: ${summary}`);
    } else if (interrupted) {
      await this.end('interrupted', null);
    } else {
      await this.end('completed', null);
    }
  }

  /** Lets clients back in, records the final status durably, removes the interrupt flag. */
  private async end(status: EndStatus, error: string | null): Promise<void> {
    await this.clients?.unfence();
    recount(this.record, this.queues);
    if (status === 'completed') {
      await this.applyDefaultQueueType();
      await deleteSnapshots(this.ctx, this.record.snapshots).catch((err) =>
        this.record.notes.push(`snapshots could not be removed: ${(err as Error).message}`),
      );
    }
    if (kindOf(this.record) === 'rollback') await recordRollbackOutcome(this.ctx, this.mgmt, this.record, this.queues, this.log);
    if (kindOf(this.record) === 'repair') await recordRepairOutcome(this.ctx, this.record, this.queues, this.log);
    markMigrationEnded(this.record, status, error);
    this.finished = true;
    await this.writer.flush();
    await this.writer.saveAll();
    await this.mgmt.deleteGlobalParameter(interruptParameter(this.record.id)).catch(() => undefined);
    // No longer running: nothing may resume it (saved permissions not yet put back stay in the vault for housekeeping).
    await this.ctx.vault
      .clearRunMarker(this.record.id)
      .catch((err) => this.log.warn('cannot remove the run marker (housekeeping removes it)', { error: (err as Error).message }));
    this.audit({
      action: `${kindOf(this.record)}_finished`,
      details: { status, error, completed: this.record.completed_queues, skipped: this.record.skipped_queues, failed: this.record.failed_queues },
    });
    this.log.info(`${kindOf(this.record)} finished`, { status, error });
  }

  private async applyDefaultQueueType(): Promise<void> {
    const wanted = this.record.options.set_default_queue_type;
    if (!wanted) return;
    for (const name of vhostsOf(this.record)) await this.noteDefaultQueueType(name, wanted);
  }

  private async noteDefaultQueueType(name: string, wanted: 'quorum' | 'classic'): Promise<void> {
    const vhost = await this.mgmt.vhost(name).catch(() => null);
    const current = vhost?.default_queue_type ?? 'classic';
    if (current === wanted) {
      this.record.notes.push(`default queue type of vhost '${name}' is already ${wanted}`);
    } else {
      this.record.notes.push(
        `set_default_queue_type=${wanted} not applied: RabbitMQ 3.10 sets a vhost's default queue type only when the vhost is created (it stays '${current}'); clients declaring queues without x-queue-type still get ${current} queues`,
      );
    }
  }

  // --- the lock -----------------------------------------------------------------------------

  private watchLock(lock: ClusterLock): void {
    lock.onLost(() => {
      if (this.finished || this.aborted || lock !== this.lock) return;
      this.lockPause = this.reacquire().finally(() => (this.lockPause = null));
    });
  }

  private async reacquire(): Promise<void> {
    for (let attempt = 1; attempt <= LOCK_RETRIES; attempt++) {
      try {
        const lock = await acquireLock(this.ctx, MIGRATION_LOCK);
        this.lock = lock;
        this.watchLock(lock);
        this.log.info('cluster lock re-acquired', { attempt });
        return;
      } catch (err) {
        if (err instanceof LockHeldError) {
          this.abort('the cluster lock was taken by another sidecar');
          return;
        }
        this.log.warn('cannot re-acquire the cluster lock yet', { attempt, error: (err as Error).message });
        await sleep(1000);
      }
    }
    this.abort('lost the cluster lock and could not re-acquire it');
  }
}
