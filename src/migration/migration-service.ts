/**
 * The migration engine's entry point (MigrationEngine of contract.ts):
 * - start: cluster-wide lock first (exclusive queue: one winner across sidecars), then the same
 *   check chain as `check` (assessStart), then the durable record, then the run in background;
 * - interrupt: from any sidecar, through a global parameter the owner reads before each queue;
 * - resumeOrphans: active records whose lock is free belong to a dead sidecar: resume them;
 * - shutdown: stop taking steps and free the lock, leaving the record for a resumer.
 */
import type { Context } from '../context.js';
import {
  BadRequestError,
  BrokerRequestError,
  InvalidStateError,
  MigrationInProgressError,
  ObjectNotFoundError,
  QmigError,
  VhostNotFoundError,
} from '../errors.js';
import { logger } from '../logging.js';
import { assess, assessStart, startRefusal } from '../checks/assessment.js';
import { auditLog } from '../state/audit-log.js';
import { ClusterLock, LockHeldError } from '../state/cluster-lock.js';
import { acquireLock } from '../state/lock-guard.js';
import { decodeMigrationId, displayId, newMigrationId } from '../state/migration-id.js';
import { timestamp, vhostsOf, type MigrationOptions, type MigrationRecord, type QueueRecord } from '../state/records.js';
import { isActive, markScheduledEnded, markScheduledWaiting, plannedQueue, plannedSkip, rollbackCompleted, takeStoredStatus } from './status.js';
import { CANCELLED_NOTE, MAX_TIMER_MS, expiredNote, refusedNote, scheduledAction, validateSchedule } from './schedule.js';
import { recheckCaller } from './caller-recheck.js';
import type { Caller, MigrationEngine } from './contract.js';
import { MigrationRun } from './migration-run.js';
import { planRollback, type RollbackRequest } from './rollback-plan.js';
import { planRepair, type RepairRequest } from './repair-plan.js';
import type { EngineHooks } from './engine-hooks.js';
import { MIGRATION_LOCK, interruptParameter } from '../broker/names.js';
import { sleep } from '../async/concurrency.js';
import { buildPlan, Planner, type MigrationPlan, type MigrationPlanAll } from './planner.js';
import type { Calibration } from './estimate-model.js';
import { recordedEstimate, refuseUnfit, sumEstimates, type RecordedEstimate } from './start-estimate.js';

/** A rollback's or a repair's plan over the migration it follows up. */
interface FollowUp {
  queues: QueueRecord[];
  tolerance: number | null;
  queueNames: string[] | null;
  fields: Partial<MigrationRecord>;
  reason: string | null;
  /** Adds the new run's id to the migration's list of follow-ups. */
  link: (id: string) => void;
}

/** What a new run is made of (a migration's or a rollback's), before it has an id. */
interface NewRun {
  queues: QueueRecord[];
  options: MigrationOptions;
  /** Record fields beyond the common ones (kind, rollback_of). */
  fields: Partial<MigrationRecord>;
  engineFields?: Record<string, unknown>;
  audit: { action: string; details: Record<string, unknown> };
  /** After the record is stored, before the run starts. */
  created?: (record: MigrationRecord) => Promise<void>;
  /** The record's vhost when it differs from the one named to startRun (start-many's first chosen vhost). */
  vhost?: string;
}

/** A follow-up of a run over several vhosts covers them too (each fenced only while its own queues move). */
const vhostsField = (r: MigrationRecord): Partial<MigrationRecord> => (vhostsOf(r).length > 1 ? { vhosts: vhostsOf(r) } : {});

function refusePastDeadline(options: MigrationOptions): void {
  if (options.deadline && !(Date.parse(options.deadline) > Date.now())) {
    throw new BadRequestError(`deadline ${options.deadline} is not in the future`);
  }
}

export interface MigrationServiceOptions {
  /** Test hooks (observe or delay steps); never set in production. */
  hooks?: EngineHooks;
  /** The plan's calibration cache (default: one of this service's own). */
  planner?: Planner;
}

/** Flags of a start that are not options of the migration. */
export interface StartFlags {
  /** Start even when the plan says the run would not fit before its deadline. */
  force?: boolean;
}

/** A scheduled run past its not_before whose lock is held looks again this often. */
export const SCHEDULE_RETRY_MS = 3000;

/** Thrown under the lock when a scheduled record is no longer there to open (already opened or ended). */
class NotScheduled extends Error {}
/** Thrown under the lock when a scheduled record was cancelled (its interrupt flag set) before it opened. */
class ScheduleCancelled extends Error {}

/**
 * The vhost whose lock queue guards a migration (`record.engine.lock_vhost`; records written
 * before it was stored were guarded in the default state vhost `/`). Records are cluster-wide but
 * a lock lives in one vhost: a sidecar judges ("is its lock free?", resume, 409) only the records
 * guarded in its own QMIG_STATE_VHOST, so all sidecars of one cluster must share that setting.
 */
export function lockVhostOf(r: MigrationRecord): string {
  const v = r.engine?.lock_vhost;
  return typeof v === 'string' ? v : '/';
}

const refused = new Set<string>();
/** Logs once per process why a migration is not resumed. */
function refuseOnce(id: string, reason: string): void {
  if (refused.has(id)) return;
  refused.add(id);
  logger.warn('orphaned migration not resumed', { migration_id: id, reason });
}

export class MigrationService implements MigrationEngine {
  private readonly runs = new Map<string, MigrationRun>();
  private resuming: Promise<void> | null = null;
  private closed = false;
  readonly planner: Planner;

  constructor(
    private readonly ctx: Context,
    private readonly options: MigrationServiceOptions = {},
  ) {
    this.planner = options.planner ?? new Planner(ctx);
  }

  /** POST plan: what a start with `options` would do (changes nothing on the vhost). */
  plan(vhost: string, options: MigrationOptions, recalibrate = false): Promise<MigrationPlan> {
    return this.planner.plan(vhost, options, recalibrate);
  }

  planAll(options: MigrationOptions, include: (vhost: string) => boolean, recalibrate = false): Promise<MigrationPlanAll> {
    return this.planner.planAll(options, include, recalibrate);
  }

  planMany(vhosts: string[], all: boolean, options: MigrationOptions, recalibrate = false): Promise<MigrationPlanAll> {
    return this.planner.planMany(vhosts, all, options, recalibrate);
  }

  /**
   * The calibration a start estimates with, got BEFORE the lock is taken (a probe takes seconds):
   * the cached one; with a deadline to judge and none cached, a new probe (QMIG_PLAN_ESTIMATE_AT_START).
   * Without a deadline no probe runs: it would cost the run its own duration again on a small
   * vhost (measured: 500 queues × 100 messages took 86 s without the probe, 121 s with it), for an
   * estimate nothing is judged on. Null when there is none. A failed probe does not stop the start
   * (it is logged; no estimate, no fit check).
   */
  private async startCalibration(options: MigrationOptions): Promise<Calibration | null> {
    const cached = this.planner.fresh();
    if (cached || !options.deadline || !this.ctx.config.planEstimateAtStart) return cached;
    try {
      return await this.planner.calibration();
    } catch (err) {
      logger.warn('calibration probe failed: the migration starts without an estimate', { error: (err as Error).message });
      return null;
    }
  }

  private get who(): string {
    return `qmig:${this.ctx.instanceId}`;
  }

  /** Active, and guarded by the lock this sidecar takes (see lockVhostOf). */
  private isOurActive = (r: MigrationRecord): boolean => isActive(r) && lockVhostOf(r) === this.ctx.config.stateVhost;

  async start(vhost: string, options: MigrationOptions, caller: Caller, flags: StartFlags = {}): Promise<{ migration_id: string }> {
    refusePastDeadline(options);
    // A scheduled start without a deadline has no window to judge now; it is estimated when it opens.
    const calibration = options.not_before && !options.deadline ? null : await this.startCalibration(options);
    if (options.not_before) return this.schedule(vhost, options, caller, calibration, flags);
    return this.startRun(vhost, caller, () => this.planMigration(vhost, options, null, calibration, flags));
  }

  /**
   * The check chain of start (assessStart) and the queues it selects, with the plan's estimate
   * (refused with would_not_fit when it does not fit before the deadline, unless forced): run at
   * start, or when a scheduled run opens (its window opens now).
   */
  private async planMigration(
    vhost: string,
    options: MigrationOptions,
    scheduledId: string | null,
    calibration: Calibration | null,
    flags: StartFlags,
  ): Promise<NewRun> {
    await this.options.hooks?.atPoint?.({ migrationId: scheduledId, point: 'validating' });
    const t0 = performance.now();
    const assessment = await assessStart(this.ctx, vhost, options);
    const estimate = calibration
      ? recordedEstimate(buildPlan(vhost, options, assessment, calibration, this.ctx.config, (performance.now() - t0) / 1000))
      : null;
    if (!flags.force) refuseUnfit(estimate, new Date(), options);
    return {
      queues: [
        ...assessment.toMigrate.map((q) => plannedQueue(q.name, vhost, q.messages ?? 0, q.node ?? null)),
        ...assessment.skipped.map((s) => plannedSkip(s.name, vhost, s.reason, s.detail)),
      ],
      options,
      fields: estimate ? { estimate } : {},
      audit: {
        action: 'migration_started',
        details: {
          queues: assessment.toMigrate.length,
          skipped: assessment.skipped.length,
          options,
          estimate,
          forced: flags.force === true,
          ...(scheduledId ? { scheduled: true } : {}),
        },
      },
    };
  }

  /**
   * A start with `not_before`: validated now (body, vhost and caller by the route), stored as a
   * `scheduled` record without the lock (it blocks nothing), opened by any sidecar at its time.
   */
  private async schedule(
    vhost: string,
    options: MigrationOptions,
    caller: Caller,
    calibration: Calibration | null,
    flags: StartFlags,
  ): Promise<{ migration_id: string }> {
    const now = new Date();
    validateSchedule(options, now);
    // The window opens at not_before: judged on today's queues now (no refusal on the checks,
    // they run again at the window), and again when it opens unless forced.
    let estimate: RecordedEstimate | null = null;
    if (calibration && options.deadline) {
      const t0 = performance.now();
      const a = await assess(this.ctx, vhost, options);
      estimate = recordedEstimate(buildPlan(vhost, options, a, calibration, this.ctx.config, (performance.now() - t0) / 1000));
      if (!flags.force) refuseUnfit(estimate, new Date(options.not_before!), options);
    }
    const at = timestamp(now);
    const id = newMigrationId(this.ctx.nodeName, now);
    const record: MigrationRecord = {
      id,
      display_id: displayId(vhost, at, this.ctx.nodeName),
      vhost,
      node: this.ctx.nodeName,
      started_at: at,
      completed_at: null,
      total_queues: 0,
      completed_queues: 0,
      skipped_queues: 0,
      failed_queues: 0,
      status: 'scheduled',
      skip_unsuitable_queues: options.skip_unsuitable_queues,
      tolerance: options.tolerance,
      error: null,
      snapshots: [],
      options,
      owner: this.ctx.instanceId,
      queue_chunks: 0,
      interrupt_requested: false,
      notes: [],
      engine: { started_by: caller.user, lock_vhost: this.ctx.config.stateVhost, ...(flags.force ? { forced: true } : {}) },
      updated_at: at,
      scheduled_at: at,
      ...(estimate ? { estimate } : {}),
      waiting_reason: null,
    };
    await this.ctx.store.create(record, []);
    auditLog(this.ctx.config.auditLogFile).record({
      action: 'migration_scheduled',
      migration_id: id,
      vhost,
      who: caller.user,
      details: { not_before: options.not_before, options, estimate, forced: flags.force === true },
    });
    logger.info('migration scheduled', { migration_id: id, vhost, not_before: options.not_before });
    this.armTimer(id, Date.parse(options.not_before!) - now.getTime());
    return { migration_id: id };
  }

  /**
   * One run over several vhosts (POST start-many), in the order given: each vhost assessed as its
   * own start would be (the first refusal, named after its vhost, refuses the whole run), its
   * queues selected with the same options (batch_size counts per vhost). `all`: the candidates
   * that have mirrored classic queues. At run time each vhost is fenced only while its own queues
   * move (MigrationRun.runVhosts).
   */
  async startMany(vhosts: string[] | { all: string[] }, options: MigrationOptions, caller: Caller, flags: StartFlags = {}): Promise<{ migration_id: string }> {
    refusePastDeadline(options);
    // A scheduled run re-checks one vhost when it opens (caller-recheck, planMigration); one over
    // several would need that per vhost: not offered, said rather than ignored.
    if (options.not_before) throw new BadRequestError('not_before is not supported by start-many: schedule one start per vhost, or start the run at its time');
    const calibration = await this.startCalibration(options);
    const candidates = Array.isArray(vhosts) ? vhosts : vhosts.all;
    if (candidates.length === 0) throw new BadRequestError('no vhost to migrate: the caller may change none');
    return this.startRun(candidates[0], caller, async () => {
      await this.options.hooks?.atPoint?.({ migrationId: null, point: 'validating' });
      const chosen: string[] = [];
      const queues: QueueRecord[] = [];
      const estimates: RecordedEstimate[] = [];
      let migrating = 0;
      for (const vhost of candidates) {
        const t0 = performance.now();
        const a = await assess(this.ctx, vhost, options).catch((err) => {
          // "all": a vhost deleted since it was listed is not part of the run (as in check/all).
          if (!Array.isArray(vhosts) && (err instanceof VhostNotFoundError || (err instanceof BrokerRequestError && err.status === 404))) return null;
          throw err;
        });
        if (!a || (!Array.isArray(vhosts) && a.report.queue_checks.summary.total_queues === 0)) continue;
        const refusal = startRefusal(a.report);
        if (refusal) throw new BadRequestError(`vhost '${vhost}': ${refusal.reason}`, { ...refusal.extra, vhost });
        chosen.push(vhost);
        if (calibration) estimates.push(recordedEstimate(buildPlan(vhost, options, a, calibration, this.ctx.config, (performance.now() - t0) / 1000)));
        migrating += a.toMigrate.length;
        queues.push(
          ...a.toMigrate.map((q) => plannedQueue(q.name, vhost, q.messages ?? 0, q.node ?? null)),
          ...a.skipped.map((s) => plannedSkip(s.name, vhost, s.reason, s.detail)),
        );
      }
      if (chosen.length === 0) throw new BadRequestError('no vhost the caller may change has mirrored classic queues');
      // The vhosts run one after the other: the run's estimate is the sum of theirs.
      const estimate = calibration ? sumEstimates(estimates, calibration.calibrated_at) : null;
      if (!flags.force) refuseUnfit(estimate, new Date(), options);
      return {
        queues,
        options,
        fields: { ...(chosen.length > 1 ? { vhosts: chosen } : {}), ...(estimate ? { estimate } : {}) },
        audit: {
          action: 'migration_started',
          details: { vhosts: chosen, queues: migrating, skipped: queues.length - migrating, options, estimate, forced: flags.force === true },
        },
        vhost: chosen[0],
      };
    });
  }

  /**
   * Rolls back `migration` (as just read by the caller): its changed queues, or the named ones,
   * back to mirrored classic — a run of its own, under the same lock, fence and resume.
   */
  async startRollback(migration: MigrationRecord, request: RollbackRequest, caller: Caller): Promise<{ migration_id: string }> {
    if (!this.ctx.config.fenceClients) {
      throw new InvalidStateError(
        'A rollback runs only with clients fenced (QMIG_FENCE_CLIENTS=true): RabbitMQ 3.10 cannot delete a quorum queue "only if empty", so nothing may publish while its queues are replaced',
        migration.status,
      );
    }
    return this.startFollowUp(migration, caller, (stored, queues) => ({
      queues: planRollback(stored, queues, request),
      tolerance: request.tolerance ?? stored.options?.tolerance ?? null,
      queueNames: request.queue_names,
      fields: { kind: 'rollback', rollback_of: stored.id, ...vhostsField(stored) },
      reason: request.reason,
      link: (rollbackId) => (stored.rollbacks = [...(Array.isArray(stored.rollbacks) ? stored.rollbacks : []), rollbackId]),
    }));
  }

  /**
   * Repairs `migration` (as just read by the caller): its failed queues, or the named ones,
   * finished forward from what the broker shows — a run of its own, like a rollback.
   */
  async startRepair(migration: MigrationRecord, request: RepairRequest, caller: Caller): Promise<{ migration_id: string }> {
    return this.startFollowUp(migration, caller, (stored, queues) => ({
      queues: planRepair(stored, queues, request),
      tolerance: stored.options?.tolerance ?? null,
      queueNames: request.queue_names,
      fields: { kind: 'repair', repair_of: stored.id, ...vhostsField(stored) },
      reason: request.reason,
      link: (repairId) => (stored.repairs = [...(Array.isArray(stored.repairs) ? stored.repairs : []), repairId]),
    }));
  }

  /** A run over queues of an ended migration (a rollback or a repair), linked to it both ways. */
  private startFollowUp(
    migration: MigrationRecord,
    caller: Caller,
    plan: (stored: MigrationRecord, queues: QueueRecord[]) => FollowUp,
  ): Promise<{ migration_id: string }> {
    return this.startRun(migration.vhost, caller, async () => {
      const stored = await this.ctx.store.loadRecord(migration.id);
      const queues = stored ? await this.ctx.store.loadAllQueues(stored) : null;
      if (!stored || !queues)
        throw new InvalidStateError(`Migration ${migration.id}: its stored queues could not be read back; nothing was changed`, migration.status);
      const p = plan(stored, queues);
      const kind = p.fields.kind ?? 'migration';
      return {
        queues: p.queues,
        options: {
          skip_unsuitable_queues: false,
          tolerance: p.tolerance,
          batch_size: 'all',
          batch_order: stored.options?.batch_order ?? 'smallest_first',
          queue_names: p.queueNames,
          allow_message_ttl: true,
          set_default_queue_type: null,
        },
        fields: p.fields,
        engineFields: p.reason ? { reason: p.reason } : {},
        audit: { action: `${kind}_started`, details: { [`${kind}_of`]: stored.id, queues: p.queues.length, reason: p.reason } },
        // The migration names its follow-ups (status shows the link both ways).
        created: async (run) => {
          p.link(run.id);
          stored.updated_at = timestamp();
          await this.ctx.store.saveRecord(stored);
        },
      };
    });
  }

  /**
   * Lock, orphan check, then the run `prepare` describes: recorded durably and launched in the
   * background. `scheduled`: the scheduled record this run opens (its id, display id and caller are kept).
   */
  private async startRun(named: string, caller: Caller, prepare: () => Promise<NewRun>, scheduled?: MigrationRecord): Promise<{ migration_id: string }> {
    let lock: ClusterLock;
    try {
      lock = await acquireLock(this.ctx, MIGRATION_LOCK);
    } catch (err) {
      if (err instanceof LockHeldError) throw new MigrationInProgressError(await this.activeMigrationId());
      throw err;
    }
    let launched = false;
    try {
      // The lock was free, yet a record is active: its sidecar died. Resume it now, refuse this start.
      // (An active record that may not be resumed — no run marker — does not block starts.)
      const orphan = (await this.ctx.store.listRecords()).find(this.isOurActive);
      if (orphan && (await this.resume(orphan, lock))) {
        launched = true;
        throw new MigrationInProgressError(orphan.id);
      }
      const plan = await prepare();
      const vhost = plan.vhost ?? named;
      const now = new Date();
      const startedAt = timestamp(now);
      const id = scheduled?.id ?? newMigrationId(this.ctx.nodeName, now);
      const queues = plan.queues;
      const record: MigrationRecord = {
        id,
        display_id: scheduled?.display_id ?? displayId(vhost, startedAt, this.ctx.nodeName),
        vhost,
        node: this.ctx.nodeName,
        started_at: startedAt,
        completed_at: null,
        total_queues: queues.length,
        completed_queues: 0,
        skipped_queues: queues.filter((q) => q.status === 'skipped').length,
        failed_queues: 0,
        status: 'in_progress',
        skip_unsuitable_queues: plan.options.skip_unsuitable_queues,
        tolerance: plan.options.tolerance,
        error: null,
        snapshots: [],
        options: plan.options,
        owner: this.ctx.instanceId,
        queue_chunks: 0,
        interrupt_requested: false,
        notes: scheduled ? [`scheduled for ${scheduled.options.not_before}; opened at ${now.toISOString()}`] : [],
        engine: { started_by: caller.user, lock_vhost: this.ctx.config.stateVhost, ...plan.engineFields },
        updated_at: startedAt,
        ...(scheduled ? { scheduled_at: scheduled.scheduled_at ?? scheduled.started_at, waiting_reason: null } : {}),
        ...plan.fields,
      };
      // The run marker first (in the state vhost, where no tenant can write): only a migration
      // that has one is ever resumed, so a replayed or forged active record is not.
      await this.ctx.vault.markRunning({ migration_id: id, vhost });
      try {
        await this.ctx.store.create(record, queues);
      } catch (err) {
        await this.ctx.vault.clearRunMarker(id).catch(() => undefined);
        throw err;
      }
      await plan.created?.(record).catch((err) => logger.warn('cannot link the new run to its migration', { migration_id: id, error: (err as Error).message }));
      auditLog(this.ctx.config.auditLogFile).record({ action: plan.audit.action, migration_id: id, vhost, who: caller.user, details: plan.audit.details });
      this.launch(record, queues, lock, false);
      launched = true;
      return { migration_id: id };
    } finally {
      if (!launched) await lock.release();
    }
  }

  async interrupt(id: string, caller: Caller): Promise<void> {
    if (!decodeMigrationId(id)) throw new ObjectNotFoundError();
    const run = this.runs.get(id);
    const record = run?.record ?? (await this.ctx.store.loadRecord(id));
    if (!record) throw new ObjectNotFoundError();
    if (!isActive(record) && record.status !== 'scheduled') {
      throw new InvalidStateError(
        `Migration is ${record.status}; only a scheduled, pending, in-progress or paused migration can be interrupted`,
        record.status,
      );
    }
    // The flag first: a sidecar opening a scheduled run reads it under the lock (and a run it
    // already launched reads it before its first queue), so a cancel racing an open still stops it.
    await this.ctx.store.params.put(interruptParameter(id), { requested_by: caller.user, requested_at: timestamp() });
    run?.interruptLocally();
    auditLog(this.ctx.config.auditLogFile).record({ action: 'interrupt_requested', migration_id: id, vhost: record.vhost, who: caller.user });
    if (record.status === 'scheduled') await this.endScheduled(id, 'interrupted', null, CANCELLED_NOTE, 'scheduled_run_cancelled');
  }

  // --- scheduled runs ------------------------------------------------------------------------

  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Looks at scheduled run `id` again in `ms` (replacing an earlier timer). */
  private armTimer(id: string, ms: number): void {
    if (this.closed) return;
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    const timer = setTimeout(
      () => {
        if (this.timers.get(id) === timer) this.timers.delete(id);
        void this.openScheduled(id).catch((err) => {
          logger.error('scheduled run: cannot look at it; trying again', { migration_id: id, error: (err as Error).message });
          this.armTimer(id, SCHEDULE_RETRY_MS);
        });
      },
      Math.max(0, Math.min(ms, MAX_TIMER_MS)),
    );
    timer.unref();
    this.timers.set(id, timer);
  }

  /**
   * Arms a timer for every scheduled record guarded in this sidecar's state vhost that has none
   * here (at startup and on each housekeeping tick: a restarted or other sidecar catches up).
   */
  async armSchedules(): Promise<void> {
    if (this.closed) return;
    const now = Date.now();
    for (const r of await this.ctx.store.listRecords()) {
      if (r.status !== 'scheduled' || lockVhostOf(r) !== this.ctx.config.stateVhost || this.timers.has(r.id) || this.runs.has(r.id)) continue;
      this.armTimer(r.id, r.options.not_before ? Date.parse(r.options.not_before) - now : 0);
    }
  }

  private async interruptFlagSet(id: string): Promise<boolean> {
    return (await this.ctx.store.params.get('interrupt', interruptParameter(id))) !== null;
  }

  /**
   * The timer of scheduled run `id` fired: decide (schedule.ts scheduledAction) and wait again,
   * end it, or open it — under the migration lock, re-read and re-checked (the record is still
   * scheduled and not cancelled, the caller's rights as the broker has them now, the check chain
   * of start with the queue selection of now), as a normal run with the same id.
   */
  private async openScheduled(id: string): Promise<void> {
    if (this.closed) return;
    const record = await this.ctx.store.loadRecord(id);
    if (!record) return;
    const action = scheduledAction(record, new Date(), await this.interruptFlagSet(id));
    switch (action.kind) {
      case 'none':
        return;
      case 'wait':
        this.armTimer(id, action.ms);
        return;
      case 'cancel':
        await this.endScheduled(id, 'interrupted', null, CANCELLED_NOTE, 'scheduled_run_cancelled');
        return;
      case 'expire':
        await this.endScheduled(id, 'interrupted', null, expiredNote(record.options.deadline), 'scheduled_run_expired');
        return;
      case 'open':
        break;
    }
    const user = typeof record.engine.started_by === 'string' ? record.engine.started_by : '';
    // Only a calibration this sidecar has (every sidecar's timer fires at the window: none starts a
    // probe then). Without one, the estimate made when it was scheduled stays, not judged again.
    const calibration = this.planner.fresh();
    try {
      await this.startRun(
        record.vhost,
        { user, tags: [] },
        async () => {
          const current = await this.ctx.store.loadRecord(id);
          if (!current || current.status !== 'scheduled') throw new NotScheduled();
          if (current.interrupt_requested || (await this.interruptFlagSet(id))) throw new ScheduleCancelled();
          await recheckCaller(this.ctx, user, record.vhost);
          // The window opens now: the fit is judged again on the queues of this moment (unless forced at scheduling).
          const run = await this.planMigration(record.vhost, current.options, id, calibration, { force: current.engine.forced === true });
          if (!run.fields.estimate && current.estimate) run.fields.estimate = current.estimate;
          return run;
        },
        record,
      );
      logger.info('scheduled migration opened', { migration_id: id, vhost: record.vhost, not_before: record.options.not_before });
    } catch (err) {
      if (err instanceof NotScheduled) return;
      if (err instanceof ScheduleCancelled) {
        await this.endScheduled(id, 'interrupted', null, CANCELLED_NOTE, 'scheduled_run_cancelled');
      } else if (err instanceof MigrationInProgressError) {
        // Another run holds the lock: wait (visibly) and look again; the deadline ends the wait.
        if (err.currentMigrationId && err.currentMigrationId !== id) {
          await this.noteWaiting(id, `migration ${err.currentMigrationId} holds the migration lock; trying again every ${SCHEDULE_RETRY_MS / 1000} s`);
        }
        this.armTimer(id, SCHEDULE_RETRY_MS);
      } else if (err instanceof QmigError && err.status < 500) {
        // The checks or the authorization of start refused it at its window.
        await this.endScheduled(id, 'failed', err.message, refusedNote(err.message), 'scheduled_run_failed');
      } else {
        logger.warn('scheduled run: cannot open it now; trying again', { migration_id: id, error: (err as Error).message });
        this.armTimer(id, SCHEDULE_RETRY_MS);
      }
    }
  }

  /** Stores why scheduled run `id` has not opened yet (re-read first: only while it is still scheduled). */
  private async noteWaiting(id: string, reason: string): Promise<void> {
    const current = await this.ctx.store.loadRecord(id);
    if (!current || current.status !== 'scheduled' || current.waiting_reason === reason) return;
    markScheduledWaiting(current, reason);
    await this.ctx.store.saveRecord(current);
  }

  /** Ends scheduled run `id` without running it (re-read first: only while it is still scheduled). */
  private async endScheduled(id: string, status: 'failed' | 'interrupted', error: string | null, note: string, action: string): Promise<void> {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
    const current = await this.ctx.store.loadRecord(id);
    if (!current || current.status !== 'scheduled') return;
    markScheduledEnded(current, status, error, note);
    await this.ctx.store.saveRecord(current);
    auditLog(this.ctx.config.auditLogFile).record({ action, migration_id: id, vhost: current.vhost, who: this.who, details: { status, error, note } });
    logger.info('scheduled migration ended without running', { migration_id: id, status, note });
  }

  async markRollbackCompleted(record: MigrationRecord): Promise<MigrationRecord> {
    const updated = rollbackCompleted(record);
    await this.ctx.store.saveRecord(updated);
    // A run of this process holding the record in memory (readers answer from it) follows.
    const live = this.ctx.live.get(record.id);
    if (live) takeStoredStatus(live.record, updated);
    return updated;
  }

  async resumeOrphans(): Promise<void> {
    // One pass at a time per process.
    this.resuming ??= this.resumeOnce().finally(() => (this.resuming = null));
    return this.resuming;
  }

  private async resumeOnce(): Promise<void> {
    if (this.closed) return;
    const orphans = (await this.ctx.store.listRecords()).filter((r) => this.isOurActive(r) && !this.runs.has(r.id));
    if (orphans.length === 0) return;
    let lock: ClusterLock;
    try {
      lock = await acquireLock(this.ctx, MIGRATION_LOCK);
    } catch (err) {
      if (err instanceof LockHeldError) return; // its owner (or another resumer) is alive
      throw err;
    }
    // Oldest first; one per pass (the lock covers one run), the next pass takes the next. Records
    // that may not be resumed are passed over (they must not hold up a real orphan).
    let resumed = false;
    try {
      for (const orphan of [...orphans].reverse()) {
        if ((resumed = await this.resume(orphan, lock))) break;
      }
    } finally {
      if (!resumed) await lock.release();
    }
  }

  /**
   * Resumes `orphan` under `lock` (held by the caller). False when it is no longer active, or
   * may not be resumed: only a verified record with its run marker (same vhost) in the state
   * vhost and every queue chunk verified is — a replayed old record has no marker any more.
   */
  private async resume(orphan: MigrationRecord, lock: ClusterLock): Promise<boolean> {
    const record = await this.ctx.store.loadRecord(orphan.id);
    if (!record || !isActive(record)) return false;
    const marker = await this.ctx.vault.runMarker(record.id);
    if (!marker || marker.vhost !== record.vhost) {
      refuseOnce(record.id, 'an active migration record without its run marker in the state vhost is not resumed (replayed, or its run ended)');
      return false;
    }
    const queues = await this.ctx.store.loadAllQueues(record);
    if (!queues) {
      refuseOnce(record.id, 'a queue chunk of this migration is missing or does not verify: not resumed');
      return false;
    }
    logger.warn('resuming an orphaned migration', { migration_id: record.id, vhost: record.vhost, previous_owner: record.owner });
    this.launch(record, queues, lock, true);
    return true;
  }

  private launch(record: MigrationRecord, queues: QueueRecord[], lock: ClusterLock, resumed: boolean): MigrationRun {
    const run = new MigrationRun(this.ctx, record, queues, lock, { resumed, who: this.who, hooks: this.options.hooks });
    this.runs.set(record.id, run);
    void run.done.finally(() => {
      if (this.runs.get(record.id) === run) this.runs.delete(record.id);
    });
    return run.start();
  }

  /** Resolves when this process's run of `id` has ended (immediately when none runs). */
  async whenFinished(id: string): Promise<void> {
    await this.runs.get(id)?.done;
  }

  /** Ids of the migrations running in this process. */
  running(): string[] {
    return [...this.runs.keys()];
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    const runs = [...this.runs.values()];
    for (const run of runs) run.abort('sidecar shutting down');
    // Steps in flight end (a move stops polling at once), then the locks are released.
    await Promise.race([Promise.all(runs.map((r) => r.done)), sleep(20_000, { unref: true })]);
  }

  /** The active migration's id for a 409 (the winner of a race may still be writing its record). */
  private async activeMigrationId(): Promise<string | null> {
    for (const run of this.runs.values()) if (isActive(run.record)) return run.id;
    for (let attempt = 0; attempt < 15; attempt++) {
      const active = (await this.ctx.store.listRecords().catch(() => [])).find(this.isOurActive);
      if (active) return active.id;
      await sleep(200);
    }
    return null;
  }
}
