/**
 * One queue's migration in progress: its record, what the run gives it (QueueRunEnv), its broker
 * actions (QueueActions) and what the steps learn on the way (QueueWork). Shared by the step
 * graph (queue-graph.ts), its accounting (queue-accounting.ts) and the runner (queue-runner.ts).
 */
import type { Context } from '../context.js';
import type { ManagementClient } from '../broker/management-client.js';
import type { Pace } from '../broker/pace.js';
import type { Logger } from '../logging.js';
import type { AuditEntry } from '../state/audit-log.js';
import { kindOf, ROLLBACK_PHASE_NAMES, type MigrationRecord, type QueuePhase, type QueueRecord } from '../state/records.js';
import type { EngineHooks } from './engine-hooks.js';
import type { QueueActions } from './queue-actions.js';
import type { MigrationStateWriter } from './state-writer.js';
import { enterPhase } from './status.js';
import type { Tolerance } from './verifier.js';

export interface QueueRunEnv {
  ctx: Context;
  /** Management client of the run (the service account, with the migration's longer timeout). */
  mgmt: ManagementClient;
  migration: MigrationRecord;
  tolerance: Tolerance;
  writer: Pick<MigrationStateWriter, 'checkpoint' | 'touch'>;
  log: Logger;
  who: string;
  audit(entry: Omit<AuditEntry, 'who' | 'migration_id' | 'vhost'>): void;
  /** True once this process no longer owns the migration (lock lost, shutdown). */
  shouldAbort(): boolean;
  hooks?: EngineHooks;
  /** Temporary-queue names that existed in the vhost when the run began (not ours to use). */
  preexistingTemporaryQueues: Set<string>;
  /** Paces the removal of leftover shovels across the run's queues (one at a time). */
  cleanupPace?: Pace;
  /** Nodes running when the run began (one `GET /api/nodes`): how many replicas a temporary queue gets. */
  runningNodes: number;
}

/** Replicas a temporary quorum queue gets at most. */
export const MAX_TEMPORARY_REPLICAS = 3;

/**
 * Replicas of a temporary quorum queue: one on each running node, up to MAX_TEMPORARY_REPLICAS.
 * A quorum queue keeps its messages available while a majority of its members run, so with three
 * members one node may stop in the middle of a move (with two, losing either stops the queue);
 * nodes that are down when the run begins are not counted, or the declare would wait for them.
 */
export function temporaryReplicas(runningNodes: number): number {
  return Math.max(1, Math.min(MAX_TEMPORARY_REPLICAS, Math.floor(runningNodes)));
}

/**
 * Where a queue's messages are, in the workflow's words: the queue being replaced (`source`), the
 * temporary queue, or the queue that replaces it (`target`). A migration's source is the classic
 * queue and its target the quorum queue; a rollback's are the other way round. The record stores
 * the concrete type (QueueRecord['location']).
 */
export type Whereabouts = 'source' | 'temporary' | 'target';

/** The queue types of one direction. */
export interface Direction {
  source: 'classic' | 'quorum';
  target: 'classic' | 'quorum';
}

export const directionOf = (m: Pick<MigrationRecord, 'kind'>): Direction =>
  kindOf(m) === 'rollback' ? { source: 'quorum', target: 'classic' } : { source: 'classic', target: 'quorum' };

export class QueueWork {
  /** Whether the temporary queue exists (null: not known in this run). */
  temporaryExists: boolean | null = null;
  /** The last move was verified in this run (a resumed `finish` verifies itself). */
  verifiedInThisRun = false;
  /** The temporary queue was deleted and declared again after a move into it stalled (once per queue). */
  temporaryDeclaredAgain = false;
  /** The new queue was deleted and declared again once (it had no leader; resume.ts). */
  mainDeclaredAgain = false;
  /** A shovel of this queue may exist (this run created one, or the run is a resumed one). */
  shovelsPossible = false;

  constructor(
    readonly env: QueueRunEnv,
    readonly q: QueueRecord,
    readonly index: number,
    readonly temporary: string,
    readonly actions: QueueActions,
  ) {}

  get log(): Logger {
    return this.env.log;
  }

  audit(action: string, details: Record<string, unknown> = {}): void {
    this.env.audit({ action, queue: this.q.name, details });
  }

  /**
   * Records a phase change durably (resolved = in the broker) before the step acts, so that the
   * record always names where the messages are, and a sidecar that dies mid-move leaves the step
   * it was in. Declaring queues changes no location and is only kept in memory (enterPhase, and
   * written with the next change).
   */
  async checkpointPhase(phase: QueuePhase, where?: Whereabouts): Promise<void> {
    this.enter(phase, where);
    await this.env.writer.checkpoint(this.index);
  }

  /** The queue enters `phase` (in memory), named for this run's direction; `where`: its messages from now on. */
  enter(phase: QueuePhase, where?: Whereabouts): void {
    enterPhase(
      this.q,
      this.rollingBack && phase in ROLLBACK_PHASE_NAMES ? ROLLBACK_PHASE_NAMES[phase as keyof typeof ROLLBACK_PHASE_NAMES] : phase,
      where && this.location(where),
    );
  }

  /** The messages are now in `where`. */
  at(where: Whereabouts): void {
    this.q.location = this.location(where);
  }

  location(where: Whereabouts): QueueRecord['location'] {
    return where === 'temporary' ? 'temporary' : this.direction[where];
  }

  /** This run takes quorum queues back to mirrored classic. */
  get rollingBack(): boolean {
    return kindOf(this.env.migration) === 'rollback';
  }

  get direction(): Direction {
    return directionOf(this.env.migration);
  }

  /**
   * Clients are kept out of the vhost (the fence stands): nobody can publish, so a message that
   * shows up in a queue after it was emptied is one the broker handed back — a shovel delivery
   * whose acknowledgement was lost when a node stopped — and its copy is most likely already in
   * the destination (at-least-once).
   */
  get clientsFenced(): boolean {
    return (this.env.migration.engine.fence as { active?: boolean } | undefined)?.active === true;
  }
}
