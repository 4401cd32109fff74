/**
 * One queue, mirrored classic → quorum, in place (issue 3, "Per queue, two phases"):
 *
 *   save ─┬─ (empty) empty_fast_path: delete (if-empty) ─────────────────┐
 *         └─ declare_temporary → move_to_temporary (shovel, verify)        │
 *              → delete_classic (temporary bound first; if-empty)          │
 *                                                   declare_quorum (translated args, leader on
 *                                                   the old master's node, bindings) ◄┘
 *              → move_to_quorum (temporary unbound; shovel, verify) → delete_temporary → finish
 *
 * Shovels are at-least-once: a node that stops during a move can make the broker redeliver
 * messages that were already moved. With clients fenced nobody else can add a message, so any
 * surplus over the exact count is copies: the second move (or a move back, when the copies are
 * in the quorum queue) takes them out with sidecar-move.ts before the count is verified.
 *
 * The original (arguments, bindings, policy, node, exact count) is checkpointed before anything
 * is touched; the phase and where the messages are (`location`) are checkpointed at every phase
 * change. Steps are idempotent, and a resumed queue starts from the step that the broker's actual
 * state calls for (resume.ts). On failure the queue is `failed` with a readable error, no shovel
 * is left, and the messages are gathered under one name that the record gives.
 */
import { domainEvents } from '../events/domain-events.js';
import type { Context } from '../context.js';
import { BrokerError, BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import type { Logger } from '../logging.js';
import { moveThroughSidecar } from '../broker/sidecar-move.js';
import { removeShovels } from '../broker/shovel-leftovers.js';
import { moveMessages, MoveAbortedError, ShovelStalledError, type MoveResult } from '../broker/shovels.js';
import type { Pace } from '../broker/pace.js';
import { backoffDelay, DEFAULT_RETRY_POLICY } from '../broker/call-policy.js';
import type { BrokerQueue, ManagementClient } from '../broker/management-client.js';
import type { AuditEntry } from '../state/audit-log.js';
import type { MigrationRecord, OriginalQueue, QueueRecord } from '../state/records.js';
import { timestamp } from '../state/records.js';
import { translateArguments } from './argument-translation.js';
import { isMirroredClassic, isQuorum } from '../checks/queue-selection.js';
import { decideResumeStep, expectedCount, type ObservedQueue, type Step } from './resume.js';
import type { MigrationStateWriter } from './state-writer.js';
import { verifyCount, type Tolerance } from './verifier.js';
import { temporaryQueueName, type MoveDirection, shovelName } from '../broker/names.js';
import { eachAtMost } from '../async/concurrency.js';

/** Rounds of "new messages appeared, move them too" before a queue gives up. */
const MAX_STRAGGLER_ROUNDS = 3;
/** Times one queue's copies are taken out after broker redeliveries before the count check decides. */
const MAX_COPY_REMOVAL_ROUNDS = 3;
/**
 * Binding and unbinding requests of one queue in flight at once. One after the other they cost a
 * management round trip each (a second and more apiece on a loaded broker: 7 bindings were 5 s
 * of a 30 s queue); the broker carries them out independently of each other.
 */
const BINDING_CALLS_AT_ONCE = 8;

/** What the engine lets test code observe or delay (never used in production wiring). */
export interface EngineHooks {
  beforeStep?(info: { migrationId: string; queue: string; step: Step }): void | Promise<void>;
  onShovelCreated?(info: { migrationId: string; queue: string; shovel: string; direction: MoveDirection }): void | Promise<void>;
  /**
   * Run-level points (test/reliability kills a sidecar there): `validating` (lock held, no record
   * yet; migrationId null), `before_fence` (record saved, nothing touched), `fence_revoked` (after
   * each permission revoked; `user`), `permission_restored` (after each one put back; `user`).
   */
  atPoint?(info: { migrationId: string | null; point: 'validating' | 'before_fence' | 'fence_revoked' | 'permission_restored'; user?: string }): void | Promise<void>;
}

export interface QueueRunEnv {
  ctx: Context;
  /** Management client of the run (the service account, with the migration's longer timeout). */
  mgmt: ManagementClient;
  migration: MigrationRecord;
  tolerance: Tolerance;
  writer: MigrationStateWriter;
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
}

/** This process lost the migration: stop without touching its state any more. */
export class RunAbortedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RunAbortedError';
  }
}

/** A queue that cannot go on, with what to tell the operator. */
export class QueueFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFailure';
  }
}

class QueueSkip extends Error {}

const MAX_TRANSIENT_RETRIES = 3;
/** Back-off of a queue that retries from its observed state: jittered, so parallel queues do not come back in lockstep. */
const QUEUE_BACKOFF = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1000, maxDelayMs: 5000 };
const queueBackoff = (retry: number) => new Promise((r) => setTimeout(r, backoffDelay(QUEUE_BACKOFF, retry, Math.random)));

/**
 * Errors worth a retry: the broker unreachable or answering 5xx, an AMQP connection lost, or a
 * management call that the answering node could not carry out on another node that is stopping
 * or booting (3.10 answers 400 "Request to node … failed with …" then), or a node whose vhost or
 * quorum cluster is not up yet (400 `cluster_not_formed`, `vhost_supervisor_not_running`: seen on
 * a loaded node; the step is redone from what the broker then shows).
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof BrokerUnavailableError || err instanceof BrokerError) return true;
  if (err instanceof BrokerRequestError && /Request to node \S+ failed|nodedown|noproc|cluster_not_formed|vhost_supervisor_not_running/i.test(err.brokerReason)) return true;
  const message = (err as Error)?.message ?? '';
  return !(err instanceof QueueFailure) && /Connection closed|ECONNRESET|ECONNREFUSED|socket hang up|heartbeat timeout/i.test(message);
}

function describe(err: unknown): string {
  if (err instanceof BrokerRequestError) return `broker refused ${err.method} (${err.status}): ${err.brokerReason}`;
  return (err as Error)?.message ?? String(err);
}

export class QueueMigrator {
  private readonly vhost: string;
  private readonly temporary: string;
  private temporaryExists: boolean | null = null;
  /** The last move was verified in this run (a resumed `finish` verifies itself). */
  private verifiedInThisRun = false;
  /** The temporary queue was deleted and declared again after a move into it stalled (once per queue). */
  private temporaryDeclaredAgain = false;
  /** A shovel of this queue may exist (this run created one, or the run is a resumed one). */
  private shovelsPossible = false;
  /**
   * The queue failed while a resumed run was cleaning up after the dead owner, before any step of
   * this run touched it: the run goes on with the other queues (migration-run.ts).
   */
  failedInResumeCleanup = false;
  private inResumeCleanup = false;

  constructor(private readonly env: QueueRunEnv, private readonly q: QueueRecord, private readonly index: number) {
    this.vhost = q.vhost;
    this.temporary = typeof q.detail.temporary_queue === 'string' ? q.detail.temporary_queue : temporaryQueueName(q.name);
  }

  private get mgmt() {
    return this.env.mgmt;
  }
  private get amqp() {
    return this.env.ctx.amqp;
  }

  /** Runs the queue to completed / failed / skipped. Throws only RunAbortedError. */
  async run(resume: boolean): Promise<void> {
    const q = this.q;
    q.status = 'in_progress';
    q.started_at ??= timestamp();
    q.error = null;
    let step: Step = 'save';
    let transientFailures = 0;
    /** Since when the broker keeps failing transiently (null: the last step went through). */
    let outageSince: number | null = null;
    try {
      if (resume && q.phase !== 'pending') {
        // The dead owner's leftovers, removed through the broker's transient failures too.
        this.inResumeCleanup = true;
        step = await this.recoverThroughOutage(Date.now());
        this.inResumeCleanup = false;
      }
      for (;;) {
        if (this.env.shouldAbort()) throw new RunAbortedError('ownership of the migration lost');
        try {
          await this.env.hooks?.beforeStep?.({ migrationId: this.env.migration.id, queue: q.name, step });
          const phaseStarted = performance.now();
          const next = await this.perform(step);
          domainEvents.emit('phase_finished', { phase: step, seconds: (performance.now() - phaseStarted) / 1000 });
          outageSince = null;
          transientFailures = 0;
          if (next === null) break;
          step = next;
        } catch (err) {
          // A broker that is briefly overloaded or unreachable (a management API gone for a few
          // seconds, a node restarting): wait, then carry on from what the broker shows (every
          // step is safe to redo after recover()). At least MAX_TRANSIENT_RETRIES tries, and for
          // as long as QMIG_MIGRATION_BROKER_TIMEOUT_MS since the broker started failing.
          outageSince ??= Date.now();
          if (!isTransient(err) || (transientFailures >= MAX_TRANSIENT_RETRIES && Date.now() - outageSince > this.outageBudgetMs)) throw err;
          transientFailures++;
          this.env.log.warn('transient broker error; retrying the queue from its observed state', { queue: q.name, step, attempt: transientFailures, error: describe(err) });
          await queueBackoff(transientFailures);
          if (this.env.shouldAbort()) throw new RunAbortedError('ownership of the migration lost');
          step = await this.recoverThroughOutage(outageSince);
        }
      }
    } catch (err) {
      if (err instanceof RunAbortedError || err instanceof MoveAbortedError) throw new RunAbortedError((err as Error).message);
      if (err instanceof QueueSkip) {
        q.status = 'skipped';
        q.error = err.message;
        q.phase = 'skipped';
        q.completed_at = timestamp();
        await this.env.writer.checkpoint(this.index);
        return;
      }
      await this.fail(step, err);
    }
  }

  private get outageBudgetMs(): number {
    return this.env.ctx.config.migrationBrokerTimeoutMs;
  }

  /** recover(), retried while the broker stays unreachable (within the outage budget). */
  private async recoverThroughOutage(outageSince: number): Promise<Step> {
    for (;;) {
      try {
        return await this.recover();
      } catch (err) {
        if (!isTransient(err) || Date.now() - outageSince > this.outageBudgetMs) throw err;
        this.env.log.warn('broker still unreachable; waiting to recover the queue', { queue: this.q.name, error: describe(err) });
        await queueBackoff(2);
        if (this.env.shouldAbort()) throw new RunAbortedError('ownership of the migration lost');
      }
    }
  }

  /** Removes this queue's shovels and picks the step that the broker's state calls for. */
  private async recover(): Promise<Step> {
    this.shovelsPossible = true;
    await this.removeShovels();
    return this.recoverStep();
  }

  private async recoverStep(): Promise<Step> {
    const decision = decideResumeStep(this.q, await this.observe());
    this.env.log.info('resuming queue', { queue: this.q.name, phase: this.q.phase, decision });
    if ('skip' in decision) throw new QueueSkip(decision.skip);
    if ('lost' in decision) throw new QueueFailure(decision.lost);
    if ('blocked' in decision) throw new QueueFailure(decision.blocked);
    if (decision.discard && !this.clientsFenced) {
      // Unfenced clients may have published into the classic queue since the temporary queue took
      // messages: its count no longer proves the temporary queue holds nothing of ours.
      throw new QueueFailure('the temporary queue has no running replica (no leader) and clients are not fenced, so the classic queue\'s count cannot prove it empty: nothing was changed; start its replicas and resume');
    }
    if (decision.discard) {
      this.env.log.warn('the temporary queue has no running replica and holds nothing the classic queue lacks; declaring it again', { queue: this.q.name });
      this.audit('delete_queue', { name: this.temporary, type: 'quorum', temporary: true, reason: 'no running replica (a declare cut short); every message is in the classic queue' });
      await this.mgmt.deleteQueue(this.vhost, this.temporary);
      this.temporaryExists = false;
    }
    return decision.step;
  }

  private perform(step: Step): Promise<Step | null> {
    switch (step) {
      case 'save':
        return this.save();
      case 'empty_fast_path':
        return this.emptyFastPath();
      case 'declare_temporary':
        return this.declareTemporary();
      case 'move_to_temporary':
        return this.moveToTemporary();
      case 'delete_classic':
        return this.deleteClassic();
      case 'declare_quorum':
        return this.declareQuorum();
      case 'move_to_quorum':
        return this.moveToQuorum();
      case 'delete_temporary':
        return this.deleteTemporary();
      case 'finish':
        return this.finish();
    }
  }

  /**
   * Records a phase change durably (resolved = in the broker) before the step acts, so that the
   * record always names where the messages are, and a sidecar that dies mid-move leaves the step
   * it was in. Declaring queues changes no location and is only kept in memory (and written with
   * the next change).
   */
  private async phase(phase: Step, location?: QueueRecord['location']): Promise<void> {
    this.q.phase = phase;
    if (location) this.q.location = location;
    await this.env.writer.checkpoint(this.index);
  }

  private audit(action: string, details: Record<string, unknown> = {}): void {
    this.env.audit({ action, queue: this.q.name, details });
  }

  // --- steps --------------------------------------------------------------------------------

  private async save(): Promise<Step> {
    const q = this.q;
    const info = await this.readQueue(q.name);
    if (!info) throw new QueueSkip('queue no longer exists');
    if (isQuorum(info)) throw new QueueSkip('already a quorum queue');
    if (!isMirroredClassic(info)) throw new QueueSkip('not mirrored (no ha-mode in its effective policy)');
    if (info.exclusive) throw new QueueSkip('exclusive queue (quorum queues cannot be exclusive)');
    if (!info.durable) throw new QueueSkip('not durable (quorum queues are always durable)');
    if (this.env.preexistingTemporaryQueues.has(this.temporary)) throw new QueueFailure(`temporary queue '${this.temporary}' already exists (left by an earlier migration?); nothing was changed`);
    const [allBindings, count] = await Promise.all([this.mgmt.queueBindings(this.vhost, q.name), this.amqp.messageCount(this.vhost, q.name)]);
    const bindings = allBindings
      .filter((b) => b.source !== '' && b.destination_type === 'queue')
      .map((b) => ({ source: b.source, routing_key: b.routing_key, arguments: b.arguments ?? {} }));
    if (count === null) throw new QueueSkip('queue no longer exists');
    q.original = originalOf(info, bindings, count);
    q.total_messages = count;
    q.migrated_messages = 0;
    q.detail.temporary_queue = this.temporary;
    // The temporary queue keeps as many copies as the classic queue had (master + mirrors): as
    // durable as what it replaces, without the cost of extra replicas for a queue that lives
    // a few seconds. The final quorum queue gets the broker's full default membership.
    q.detail.temporary_replicas = 1 + (info.slave_nodes?.length ?? 0);
    q.detail.consumers_at_start = info.consumers ?? 0;
    const translated = translateArguments(info.arguments);
    if (translated.dropped.length > 0) q.detail.dropped_arguments = translated.dropped;
    await this.phase('save', 'classic');
    return count === 0 ? 'empty_fast_path' : 'declare_temporary';
  }

  private async emptyFastPath(): Promise<Step> {
    await this.phase('empty_fast_path', 'classic');
    this.audit('delete_queue', { type: 'classic', if_empty: true, reason: 'empty queue: delete and redeclare as quorum' });
    try {
      await this.mgmt.deleteQueue(this.vhost, this.q.name, { ifEmpty: true });
    } catch (err) {
      if (!(err instanceof BrokerRequestError) || err.status !== 400) throw err;
      // Not empty any more: take the full path with what is there now.
      const now = (await this.amqp.messageCount(this.vhost, this.q.name)) ?? 0;
      this.adopt(now, 'arrived before the empty queue could be deleted');
      return 'declare_temporary';
    }
    this.temporaryExists = false;
    this.q.location = 'quorum';
    return 'declare_quorum';
  }

  private async declareTemporary(): Promise<Step> {
    this.q.phase = 'declare_temporary';
    this.audit('declare_queue', { name: this.temporary, type: 'quorum', temporary: true, node: this.q.original?.node ?? null });
    const replicas = this.q.detail.temporary_replicas;
    await this.mgmt.declareQueue(this.vhost, this.temporary, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', ...(typeof replicas === 'number' && replicas >= 2 ? { 'x-quorum-initial-group-size': replicas } : {}) },
      ...(this.q.original?.node ? { node: this.q.original.node } : {}),
    });
    this.temporaryExists = true;
    return 'move_to_temporary';
  }

  private async moveToTemporary(): Promise<Step> {
    await this.phase('move_to_temporary', 'classic');
    let result: MoveResult;
    try {
      result = await this.move(this.q.name, this.temporary, 'to-temporary');
    } catch (err) {
      // Only with clients fenced: otherwise publishers could have refilled the classic queue, and
      // its count would not prove that the temporary queue holds nothing of ours.
      if (!(err instanceof ShovelStalledError) || this.temporaryDeclaredAgain || !this.clientsFenced) throw err;
      // A temporary quorum queue whose declare was cut short (its sidecar killed mid-declare)
      // exists without a running replica on 3.10, and the broker may still name a leader for it:
      // the shovel into it "runs" and moves nothing. When the classic queue still holds every
      // message, the temporary queue holds nothing of ours: declare it again, once.
      // The stopped shovel's unacknowledged messages come back to the classic queue in a moment.
      let inClassic = 0;
      for (let i = 0; i < 10 && inClassic < expectedCount(this.q); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 300));
        inClassic = (await this.amqp.messageCount(this.vhost, this.q.name)) ?? 0;
      }
      if (inClassic < expectedCount(this.q)) throw err;
      this.temporaryDeclaredAgain = true;
      this.env.log.warn('nothing could be moved into the temporary queue; the classic queue holds every message: declaring the temporary queue again', { queue: this.q.name, error: err.message });
      this.audit('delete_queue', { name: this.temporary, type: 'quorum', temporary: true, reason: `a shovel into it moved nothing (${err.message}); every message is in the classic queue` });
      await this.mgmt.deleteQueue(this.vhost, this.temporary);
      this.temporaryExists = false;
      return 'declare_temporary';
    }
    if (this.clientsFenced && result.destinationCount > expectedCount(this.q)) {
      // Copies from a broker redelivery: the second move takes them out (moveToQuorum).
      this.q.detail.surplus_in_temporary = result.destinationCount - expectedCount(this.q);
      this.env.log.warn('the temporary queue holds more messages than expected (broker redelivery); the second move removes the copies', { queue: this.q.name, surplus: this.q.detail.surplus_in_temporary });
    } else this.check(result, 'temporary queue');
    this.q.location = 'temporary';
    this.q.detail.verified_temporary = { expected: expectedCount(this.q), actual: result.destinationCount };
    return 'delete_classic';
  }

  private async deleteClassic(): Promise<Step> {
    // The temporary queue takes over the bindings first, so nothing routed meanwhile is dropped.
    await this.bindAll(this.temporary);
    await this.phase('delete_classic', 'temporary');
    this.audit('delete_queue', { type: 'classic', if_empty: true, messages_moved_to: this.temporary });
    try {
      await this.mgmt.deleteQueue(this.vhost, this.q.name, { ifEmpty: true });
    } catch (err) {
      if (!(err instanceof BrokerRequestError) || err.status !== 400) throw err;
      const now = (await this.amqp.messageCount(this.vhost, this.q.name)) ?? 0;
      this.adopt(now, 'arrived in the classic queue after the first move');
      return 'move_to_temporary';
    }
    return 'declare_quorum';
  }

  private async declareQuorum(): Promise<Step> {
    const original = this.q.original!;
    // In memory only: the location does not change here, and a resume reads the broker anyway.
    this.q.phase = 'declare_quorum';
    const translated = translateArguments(original.arguments);
    this.audit('declare_queue', { type: 'quorum', arguments: translated.arguments, dropped_arguments: translated.dropped, node: original.node });
    await this.mgmt.declareQueue(this.vhost, this.q.name, {
      durable: true,
      arguments: translated.arguments,
      ...(original.node ? { node: original.node } : {}),
    });
    await this.bindAll(this.q.name);
    if (this.temporaryExists === null) this.temporaryExists = (await this.mgmt.queue(this.vhost, this.temporary)) !== null;
    return this.temporaryExists ? 'move_to_quorum' : 'finish';
  }

  private async moveToQuorum(): Promise<Step> {
    // The quorum queue is bound; unbinding the temporary queue stops it from receiving anything new.
    // The temporary queue only ever got the original bindings (none: nothing to look up).
    const bindings = (this.q.original?.bindings.length ?? 0) > 0 ? (await this.mgmt.queueBindings(this.vhost, this.temporary)).filter((b) => b.source !== '') : [];
    await eachAtMost(BINDING_CALLS_AT_ONCE, bindings, async (b) => {
      this.audit('unbind', { queue_bound: this.temporary, exchange: b.source, routing_key: b.routing_key });
      await this.mgmt.unbindQueue(this.vhost, b.source, this.temporary, b.properties_key);
    });
    await this.phase('move_to_quorum', 'temporary');
    const expected = expectedCount(this.q);
    const removable = this.clientsFenced && this.q.detail.copies_indistinct !== true;
    if (removable) {
      const surplus = ((await this.amqp.messageCount(this.vhost, this.temporary)) ?? 0) - expected;
      if (surplus > 0) await this.removeCopies(this.temporary, this.q.name, surplus);
    }
    const result = await this.move(this.temporary, this.q.name, 'to-quorum');
    const over = result.destinationCount - expected;
    if (removable && this.q.detail.copies_indistinct !== true && over > 0 && this.copyRemovalRounds() < MAX_COPY_REMOVAL_ROUNDS) {
      // The broker redelivered during this move: take the messages back into the temporary
      // queue without the copies, then move them again.
      await this.removeCopies(this.q.name, this.temporary, over);
      return 'move_to_quorum';
    }
    this.check(result, 'quorum queue');
    this.q.location = 'quorum';
    this.q.detail.verified_quorum = { expected: expectedCount(this.q), actual: result.destinationCount };
    return 'delete_temporary';
  }

  private async deleteTemporary(): Promise<Step> {
    this.q.phase = 'delete_temporary';
    const left = await this.amqp.messageCount(this.vhost, this.temporary);
    if (left !== null && left > 0) {
      this.adopt(left, 'arrived in the temporary queue after the second move');
      return 'move_to_quorum';
    }
    if (left !== null) {
      this.audit('delete_queue', { name: this.temporary, type: 'quorum', temporary: true });
      await this.mgmt.deleteQueue(this.vhost, this.temporary);
    }
    this.temporaryExists = false;
    return 'finish';
  }

  private async finish(): Promise<Step | null> {
    const q = this.q;
    // A shovel of this queue that exists now was created by a request the broker carried out
    // late (after the client gave up on it): remove it and start again from what is there.
    if (this.shovelsPossible && (await this.removeShovels()) > 0) {
      this.env.log.warn('a late shovel of this queue was found and removed; re-checking the queue', { queue: q.name });
      this.verifiedInThisRun = false;
      return this.recoverStep();
    }
    // The last word is the quorum queue's count now: a resumed run has not verified it, and a
    // redelivery after a broker failure can land after the move's own check. With clients fenced
    // nothing else changes it; without the fence clients may already consume, so only a resumed
    // run (which has no other check) looks.
    if ((this.clientsFenced || !this.verifiedInThisRun) && expectedCount(q) > 0) {
      this.verify((await this.amqp.messageCount(this.vhost, q.name)) ?? 0, 'quorum queue');
    }
    q.status = 'completed';
    q.completed_at = timestamp();
    q.migrated_messages = q.total_messages;
    await this.phase('finish', 'quorum');
    q.phase = 'done';
    return null;
  }

  // --- helpers ------------------------------------------------------------------------------

  /**
   * The queue as the management API shows it, with its statistics. Under load the API may answer
   * a queue without its stats-backed fields (policy, effective_policy_definition) for a moment;
   * such an answer is read again rather than taken for "not mirrored".
   */
  private async readQueue(name: string): Promise<BrokerQueue | null> {
    for (let attempt = 1; ; attempt++) {
      const info = await this.mgmt.queue(this.vhost, name);
      if (!info || isQuorum(info) || info.effective_policy_definition !== undefined || attempt >= 40) return info;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Clients are kept out of the vhost (the fence stands): nobody can publish, so a message that
   * shows up in a queue after it was emptied is one the broker handed back — a shovel delivery
   * whose acknowledgement was lost when a node stopped — and its copy is most likely already in
   * the destination (at-least-once).
   */
  private get clientsFenced(): boolean {
    return (this.env.migration.engine.fence as { active?: boolean } | undefined)?.active === true;
  }

  /**
   * Messages found in `where` after it was emptied. They are always moved too (nothing is left
   * behind). Without the fence they are new publishes and become part of what must arrive; with
   * the fence they are redeliveries: the expected count stays, the copies they make are taken
   * out by the second move, and what cannot be taken out meets the count check (reported, never
   * silently accepted).
   */
  private adopt(extra: number, why: string): void {
    const rounds = (typeof this.q.detail.straggler_rounds === 'number' ? this.q.detail.straggler_rounds : 0) + 1;
    if (rounds > MAX_STRAGGLER_ROUNDS) throw new QueueFailure(`new messages keep arriving (${extra} ${why}); are clients still publishing?`);
    this.q.detail.straggler_rounds = rounds;
    if (this.clientsFenced) {
      this.q.detail.redelivered_messages = (typeof this.q.detail.redelivered_messages === 'number' ? this.q.detail.redelivered_messages : 0) + extra;
      this.env.log.warn('messages reappeared while clients are fenced (broker redelivery, possible duplicates); moving them, the count check decides', { queue: this.q.name, extra, why });
      return;
    }
    this.q.detail.expected = expectedCount(this.q) + extra;
    this.q.total_messages = this.q.detail.expected as number;
    this.env.log.warn('messages appeared during the migration; moving them too', { queue: this.q.name, extra, why });
  }

  private copyRemovalRounds(): number {
    return typeof this.q.detail.copy_removal_rounds === 'number' ? this.q.detail.copy_removal_rounds : 0;
  }

  /**
   * Moves `source` into `destination` leaving out the `surplus` copies a broker redelivery made
   * (src/broker/sidecar-move.ts); when copies cannot be told apart from messages that were
   * identical before, nothing is dropped and the count check judges the surplus.
   */
  private async removeCopies(source: string, destination: string, surplus: number): Promise<void> {
    this.q.detail.copy_removal_rounds = this.copyRemovalRounds() + 1;
    this.audit('remove_copies', { from: source, into: destination, surplus });
    const result = await moveThroughSidecar(this.amqp, {
      vhost: this.vhost,
      source,
      destination,
      surplus,
      idleTimeoutMs: this.env.ctx.config.shovelStartTimeoutSeconds * 1000,
      publisherUser: this.env.ctx.config.user,
    });
    this.audit('copies_removed', { from: source, into: destination, ...result });
    if (result.stopped) {
      // The rest stays in the source; the move that follows takes it (a shovel where needed).
      this.q.detail.copies_indistinct = true;
      this.noteVerdict(`${surplus} surplus message(s) after a broker redelivery were not removed: ${result.stopped}`, true);
      this.env.log.warn('copies not removed: the sidecar cannot move every message itself', { queue: this.q.name, surplus, reason: result.stopped });
      return;
    }
    if (result.removed > 0) {
      this.q.detail.copies_removed = (typeof this.q.detail.copies_removed === 'number' ? this.q.detail.copies_removed : 0) + result.removed;
      this.noteVerdict(`${result.removed} duplicate(s) that the broker redelivered after a failure were removed (each was an exact copy of a message already moved)`, true);
      this.env.log.warn('removed copies made by a broker redelivery', { queue: this.q.name, removed: result.removed });
    } else {
      // The same messages would be just as indistinct in another pass.
      this.q.detail.copies_indistinct = true;
      this.noteVerdict(`${surplus} surplus message(s) after a broker redelivery could not be told apart from messages that were identical before; none was removed`, true);
      this.env.log.warn('surplus messages could not be told apart; none removed', { queue: this.q.name, surplus, candidates: result.candidates });
    }
  }

  private async bindAll(queue: string): Promise<void> {
    const bindings = this.q.original?.bindings ?? [];
    if (bindings.length === 0) return;
    this.audit('bind', { queue_bound: queue, bindings: bindings.length });
    await eachAtMost(BINDING_CALLS_AT_ONCE, bindings, (b) => this.mgmt.bindQueue(this.vhost, b.source, queue, b.routing_key, b.arguments));
  }

  private async move(source: string, destination: string, direction: MoveDirection): Promise<MoveResult> {
    const name = shovelName(this.q.name, direction);
    const cfg = this.env.ctx.config;
    const total = expectedCount(this.q);
    const base = direction === 'to-quorum' ? Math.floor(total / 2) : 0;
    const progress = (moved: number) => {
      this.q.migrated_messages = Math.min(total, base + Math.floor(Math.min(moved, total) / 2));
      this.env.writer.touch(this.index);
    };
    const waiting = (await this.amqp.messageCount(this.vhost, source)) ?? 0;
    if (waiting < cfg.shovelMinMessages) {
      const moved = await this.moveSmall(source, destination, waiting, progress);
      if (moved) return moved;
    }
    this.q.detail.shovel = name;
    this.shovelsPossible = true;
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
        return this.env.hooks?.onShovelCreated?.({ migrationId: this.env.migration.id, queue: this.q.name, shovel: name, direction });
      },
      onProgress: progress,
      onStall: (seen) => {
        this.env.log.warn('a shovel moved nothing while reported running; created again', { queue: this.q.name, shovel: name, seen });
        this.audit('restart_shovel', { shovel: name, reason: seen });
      },
    });
    if (result.rounds > 0) this.audit('delete_shovel', { shovel: name, rounds: result.rounds, source_left: result.sourceCount, destination_count: result.destinationCount, ms: result.durationMs });
    delete this.q.detail.shovel;
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
    const count = async (queue: string) => (await this.amqp.messageCount(this.vhost, queue)) ?? 0;
    const destinationBefore = await count(destination);
    let src = waiting;
    let moved = 0;
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
        if (r.stopped) {
          this.env.log.warn('the sidecar could not move every message itself; a shovel moves the rest', { queue: this.q.name, from: source, reason: r.stopped });
          // The messages it did not move go back to the source asynchronously (a quorum queue
          // through its log): the shovel's move must see them there, or it would end early.
          const left = src - r.forwarded;
          for (const until = Date.now() + 10_000; (await count(source)) < left && Date.now() < until; ) await new Promise((res) => setTimeout(res, 50));
          return null;
        }
      } catch (err) {
        if (isTransient(err)) throw err;
        this.env.log.warn('the sidecar could not move these messages itself; a shovel moves the rest', { queue: this.q.name, from: source, error: describe(err) });
        return null;
      }
      src = await count(source);
    }
    if (src > 0) return null; // still arriving: the shovel path's rounds decide
    const destinationCount = await count(destination);
    progress(Math.max(0, destinationCount - destinationBefore));
    return { sourceCount: src, destinationCount, destinationBefore, rounds: 0, durationMs: Date.now() - started };
  }

  private check(result: MoveResult, where: string): void {
    this.verify(result.destinationCount, where);
    this.verifiedInThisRun = true;
  }

  /** The count check against what must arrive; a surplus is recorded (`excess_messages`) and explained. */
  private verify(actual: number, where: string): void {
    const verdict = verifyCount(expectedCount(this.q), actual, this.env.tolerance, where);
    if (verdict.actual > verdict.expected) {
      this.q.detail.excess_messages = verdict.actual - verdict.expected;
      if (this.clientsFenced && verdict.message) {
        verdict.message += '; clients are fenced, so the surplus are copies the broker redelivered (at-least-once, e.g. after a node stopped during the move)';
      }
    } else delete this.q.detail.excess_messages;
    this.noteVerdict(verdict.message, verdict.ok);
    if (!verdict.ok) throw new QueueFailure(verdict.message!);
  }

  private noteVerdict(message: string | null, ok: boolean): void {
    if (!message || !ok) return;
    const notes = Array.isArray(this.q.detail.verification_notes) ? (this.q.detail.verification_notes as string[]) : [];
    notes.push(message);
    this.q.detail.verification_notes = notes;
    if (/allow_message_ttl/.test(message)) this.env.migration.notes.push(`queue '${this.q.name}': ${message}`);
  }

  /** The queue under its own name and the temporary queue, with exact counts. */
  private async observe(): Promise<ObservedQueue> {
    let [main, temporary] = await Promise.all([this.mgmt.queue(this.vhost, this.q.name), this.mgmt.queue(this.vhost, this.temporary)]);
    // A quorum queue without a running leader cannot be counted (a passive declare waits for it).
    // A leader can be missing for a moment (an election): read again before believing it.
    const leaderless = (info: BrokerQueue | null) => !!info && isQuorum(info) && !info.leader;
    for (let i = 0; i < 3 && (leaderless(main) || leaderless(temporary)); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      [main, temporary] = await Promise.all([this.mgmt.queue(this.vhost, this.q.name), this.mgmt.queue(this.vhost, this.temporary)]);
    }
    const available = (info: BrokerQueue | null) => (info && isQuorum(info) ? !!info.leader : undefined);
    const mainAvailable = available(main);
    const temporaryAvailable = available(temporary);
    const [mainCount, temporaryCount] = await Promise.all([
      main && mainAvailable !== false ? this.amqp.messageCount(this.vhost, this.q.name) : Promise.resolve(null),
      temporary && temporaryAvailable !== false ? this.amqp.messageCount(this.vhost, this.temporary) : Promise.resolve(null),
    ]);
    this.temporaryExists = temporary !== null;
    return {
      main: !main ? 'absent' : isQuorum(main) ? 'quorum' : 'classic',
      mainCount,
      temporary: temporary !== null,
      temporaryCount,
      ...(mainAvailable !== undefined ? { mainAvailable } : {}),
      ...(temporaryAvailable !== undefined ? { temporaryAvailable } : {}),
    };
  }

  /** Deletes this queue's shovels (a crashed owner's shovel may still run), paced across the run; how many there were. */
  private async removeShovels(): Promise<number> {
    const names = (['to-temporary', 'to-quorum', 'back'] as const).map((d) => shovelName(this.q.name, d));
    return removeShovels(this.mgmt, this.vhost, names, {
      pace: this.env.cleanupPace,
      onDelete: (name, how) => this.audit('delete_shovel', { shovel: name, reason: 'left by an interrupted or late step', ...(how === 'take_over' ? { how: 'taken over: listed without a parameter' } : {}) }),
    });
  }

  /**
   * The queue failed at `step`: record why, leave no shovel, and gather the messages under one
   * name — the queue's own (classic or quorum) when it exists, else the temporary queue.
   */
  private async fail(step: Step, err: unknown): Promise<void> {
    const q = this.q;
    this.failedInResumeCleanup = this.inResumeCleanup;
    const where = this.inResumeCleanup ? `resuming (removing what the previous owner left at ${this.q.phase.replace(/_/g, ' ')})` : step.replace(/_/g, ' ');
    const reason = err instanceof QueueFailure ? err.message : `${where} failed: ${describe(err)}`;
    this.env.log.error('queue migration failed', { queue: q.name, step, error: reason });
    q.status = 'failed';
    q.error = reason;
    q.completed_at = timestamp();
    try {
      await this.removeShovels();
      if (q.original) await this.gather();
    } catch (gatherErr) {
      q.location = 'unknown';
      q.error = `${reason}; could not establish where the messages are: ${describe(gatherErr)}`;
    }
    await this.env.writer.checkpoint(this.index).catch((e) => this.env.log.error('cannot record the failed queue', { queue: q.name, error: describe(e) }));
  }

  private async gather(): Promise<void> {
    const q = this.q;
    const seen = await this.observe();
    const tempHas = (seen.temporaryCount ?? 0) > 0;
    const mainLocation = seen.main === 'quorum' ? 'quorum' : 'classic';
    if (seen.main !== 'absent' && seen.temporary) {
      if (tempHas) {
        // Bring everything back under the queue's own name, where its clients look.
        this.audit('unbind', { queue_bound: this.temporary, reason: 'gathering messages after a failure' });
        for (const b of (await this.mgmt.queueBindings(this.vhost, this.temporary)).filter((x) => x.source !== '')) {
          await this.mgmt.unbindQueue(this.vhost, b.source, this.temporary, b.properties_key);
        }
        const result = await moveMessages(this.mgmt, this.amqp, {
          vhost: this.vhost,
          name: shovelName(q.name, 'back'),
          source: this.temporary,
          destination: q.name,
          startTimeoutMs: this.env.ctx.config.shovelStartTimeoutSeconds * 1000,
          timeoutMs: this.env.ctx.config.shovelTimeoutSeconds * 1000,
        });
        this.audit('gather_messages', { from: this.temporary, into: q.name, moved: result.destinationCount - result.destinationBefore });
        q.detail.gathered_after_failure = { from: this.temporary, into: q.name, count: result.destinationCount };
      }
      const left = await this.amqp.messageCount(this.vhost, this.temporary);
      if (left === 0) {
        this.audit('delete_queue', { name: this.temporary, type: 'quorum', temporary: true, reason: 'empty after a failure' });
        await this.mgmt.deleteQueue(this.vhost, this.temporary);
      }
      q.location = mainLocation;
      return;
    }
    if (seen.main !== 'absent') q.location = mainLocation;
    else if (seen.temporary) q.location = 'temporary';
    else {
      q.location = 'unknown';
      q.error += expectedCount(q) > 0
        ? `; neither '${q.name}' nor '${this.temporary}' exists`
        : `; '${q.name}' is deleted and not declared again (it held no messages)`;
    }
  }
}

function originalOf(info: BrokerQueue, bindings: OriginalQueue['bindings'], count: number): OriginalQueue {
  return {
    durable: info.durable,
    auto_delete: info.auto_delete,
    arguments: info.arguments ?? {},
    bindings,
    policy: info.policy ?? null,
    effective_policy_definition: info.effective_policy_definition ?? null,
    node: info.node ?? null,
    message_count: count,
    message_bytes: info.message_bytes ?? 0,
  };
}
