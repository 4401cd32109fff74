/**
 * What the HTTP layer asks of the migration engine. Implemented by MigrationService
 * (src/migration/migration-service.ts).
 */
import type { MigrationOptions, MigrationRecord } from '../state/records.js';
import type { RollbackRequest } from './rollback-plan.js';
import type { RepairRequest } from './repair-plan.js';
import type { MigrationPlan, MigrationPlanAll } from './planner.js';

export interface Caller {
  user: string;
  tags: string[];
}

export interface MigrationEngine {
  /**
   * Validates (the same chain as `check`), takes the cluster-wide lock, records the migration and
   * starts it in the background. Throws MigrationInProgressError (409), VhostNotFoundError (404),
   * BadRequestError (400, spec messages) before anything is touched.
   */
  start(vhost: string, options: MigrationOptions, caller: Caller, flags?: { force?: boolean }): Promise<{ migration_id: string }>;
  /**
   * qmig: the plan of a start with `options` (migration/planner.ts): queues in run order, what
   * changes per queue, disk per node, the check's verdict and the calibrated estimate. Changes
   * nothing on the vhost. Absent on engines without a planner (the route answers 501).
   */
  plan?(vhost: string, options: MigrationOptions, recalibrate?: boolean): Promise<MigrationPlan>;
  /** qmig: plans of every vhost `include` admits that has mirrored queues (one probe for all). */
  planAll?(options: MigrationOptions, include: (vhost: string) => boolean, recalibrate?: boolean): Promise<MigrationPlanAll>;
  /** qmig: the plan of a start-many over `vhosts` in that order (`all`: leave out vhosts with nothing to migrate). */
  planMany?(vhosts: string[], all: boolean, options: MigrationOptions, recalibrate?: boolean): Promise<MigrationPlanAll>;
  /**
   * One run over several vhosts (each already authorized for the caller), in order, each fenced
   * only while its own queues move. `{all}`: of these candidates, those with mirrored classic
   * queues. Throws like start; a refusal names its vhost.
   */
  startMany(vhosts: string[] | { all: string[] }, options: MigrationOptions, caller: Caller, flags?: { force?: boolean }): Promise<{ migration_id: string }>;
  /**
   * Rolls back `migration` (as just read; authorized on its vhost by the caller): the queues it
   * changed, or the named ones, back to mirrored classic in a run of its own. Throws
   * InvalidStateError (409: not ended, a rollback itself, nothing left, fence off),
   * BadRequestError (400: a name the migration did not change), MigrationInProgressError (409).
   */
  startRollback(migration: MigrationRecord, request: RollbackRequest, caller: Caller): Promise<{ migration_id: string }>;
  /**
   * Repairs `migration` (as just read; authorized on its vhost by the caller): its failed queues,
   * or the named ones, finished forward from what the broker shows, in a run of its own. Throws
   * InvalidStateError (409: not ended, not a migration, no failed queue), BadRequestError (400),
   * MigrationInProgressError (409).
   */
  startRepair(migration: MigrationRecord, request: RepairRequest, caller: Caller): Promise<{ migration_id: string }>;
  /**
   * Asks the running migration to stop after its in-flight queues; a scheduled one ends
   * interrupted at once (never opens); 404/409 when neither.
   */
  interrupt(id: string, caller: Caller): Promise<void>;
  /**
   * The operator marks the rollback of `record` (as just read) done: only from rollback_pending
   * (InvalidStateError, 409, otherwise). Stores it, and answers the record as stored.
   */
  markRollbackCompleted(record: MigrationRecord, caller: Caller): Promise<MigrationRecord>;
  /** Finds orphaned migrations (lock free, record active) and resumes them. */
  resumeOrphans(): Promise<void>;
  /**
   * Arms this process's timers for the stored scheduled runs (start with `not_before`) that have
   * none here: at startup and on each housekeeping tick. Optional: engines without schedules.
   */
  armSchedules?(): Promise<void>;
  /** Stops background work of this process (the lock is released by closing connections). */
  shutdown(): Promise<void>;
}
