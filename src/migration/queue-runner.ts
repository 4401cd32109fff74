/**
 * Runs one queue's workflow (queue-graph.ts) to `completed`, `failed` or `skipped`:
 * - steps one after the other from STEP_GRAPH, each timed (`phase_finished` domain event) and
 *   announced to the test hooks;
 * - a resumed queue first removes what the dead owner left (its shovels), then starts from the
 *   step the broker's state calls for (resumeStep);
 * - a transient broker error (queue-errors.ts isTransient) is waited out and the queue carries on
 *   from what the broker then shows, for as long as QMIG_MIGRATION_BROKER_TIMEOUT_MS allows;
 * - on failure the queue is `failed` with a readable error, no shovel is left, and the messages
 *   are gathered under one name that the record gives.
 *
 * Shovels are at-least-once: a node that stops during a move can make the broker redeliver
 * messages that were already moved. With clients fenced nobody else can add a message, so any
 * surplus over the exact count is copies: the second move (or a move back, when the copies are
 * in the quorum queue) takes them out before the count is verified (queue-accounting.ts).
 *
 * The original (arguments, bindings, policy, node, exact count) is checkpointed before anything
 * is touched; the phase and where the messages are (`location`) at every phase change.
 */
import { sleep } from '../async/concurrency.js';
import { backoffDelay, DEFAULT_RETRY_POLICY } from '../broker/call-policy.js';
import { describeError } from '../broker/error-description.js';
import { temporaryQueueName } from '../broker/names.js';
import { MoveAbortedError } from '../broker/shovels.js';
import { domainEvents } from '../events/domain-events.js';
import type { QueueRecord, QueueStep } from '../state/records.js';
import { BrokerQueueActions } from './broker-queue-actions.js';
import type { QueueActions } from './queue-actions.js';
import { isTransient, QueueFailure, QueueSkip, RunAbortedError } from './queue-errors.js';
import { resumeStep, STEP_GRAPH } from './queue-graph.js';
import { QueueWork, type QueueRunEnv } from './queue-work.js';
import { expectedCount } from './resume.js';
import { markQueueFailed, markQueueSkipped, markQueueStarted } from './status.js';

export type { QueueRunEnv } from './queue-work.js';

const MAX_TRANSIENT_RETRIES = 3;
/** Back-off of a queue that retries from its observed state: jittered, so parallel queues do not come back in lockstep. */
const QUEUE_BACKOFF = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1000, maxDelayMs: 5000 };
const queueBackoff = (retry: number) => sleep(backoffDelay(QUEUE_BACKOFF, retry, Math.random));

export class QueueMigrator {
  private readonly w: QueueWork;
  /**
   * The queue failed while a resumed run was cleaning up after the dead owner, before any step of
   * this run touched it: the run goes on with the other queues (migration-run.ts).
   */
  failedInResumeCleanup = false;
  private inResumeCleanup = false;

  /** `actions`: the broker's (BrokerQueueActions) unless given (unit tests fake them). */
  constructor(
    private readonly env: QueueRunEnv,
    private readonly q: QueueRecord,
    index: number,
    actions?: QueueActions,
  ) {
    const temporary = typeof q.detail.temporary_queue === 'string' ? q.detail.temporary_queue : temporaryQueueName(q.name);
    this.w = new QueueWork(env, q, index, temporary, actions ?? new BrokerQueueActions(env, q.name, q.vhost, temporary));
  }

  /** Runs the queue to completed / failed / skipped. Throws only RunAbortedError. */
  async run(resume: boolean): Promise<void> {
    const q = this.q;
    markQueueStarted(q);
    let step: QueueStep = 'save';
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
          const next = await STEP_GRAPH[step](this.w);
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
          this.env.log.warn('transient broker error; retrying the queue from its observed state', {
            queue: q.name,
            step,
            attempt: transientFailures,
            error: describeError(err),
          });
          await queueBackoff(transientFailures);
          if (this.env.shouldAbort()) throw new RunAbortedError('ownership of the migration lost');
          step = await this.recoverThroughOutage(outageSince);
        }
      }
    } catch (err) {
      if (err instanceof RunAbortedError || err instanceof MoveAbortedError) throw new RunAbortedError((err as Error).message);
      if (err instanceof QueueSkip) {
        markQueueSkipped(q, err.message, true);
        await this.env.writer.checkpoint(this.w.index);
        return;
      }
      await this.fail(step, err);
    }
  }

  private get outageBudgetMs(): number {
    return this.env.ctx.config.migrationBrokerTimeoutMs;
  }

  /** recover(), retried while the broker stays unreachable (within the outage budget). */
  private async recoverThroughOutage(outageSince: number): Promise<QueueStep> {
    for (;;) {
      try {
        return await this.recover();
      } catch (err) {
        if (!isTransient(err) || Date.now() - outageSince > this.outageBudgetMs) throw err;
        this.env.log.warn('broker still unreachable; waiting to recover the queue', { queue: this.q.name, error: describeError(err) });
        await queueBackoff(2);
        if (this.env.shouldAbort()) throw new RunAbortedError('ownership of the migration lost');
      }
    }
  }

  /** Removes this queue's shovels and picks the step that the broker's state calls for. */
  private async recover(): Promise<QueueStep> {
    this.w.shovelsPossible = true;
    await this.w.actions.removeShovels();
    return resumeStep(this.w);
  }

  /**
   * The queue failed at `step`: record why, leave no shovel, and gather the messages under one
   * name — the queue's own (classic or quorum) when it exists, else the temporary queue.
   */
  private async fail(step: QueueStep, err: unknown): Promise<void> {
    const q = this.q;
    this.failedInResumeCleanup = this.inResumeCleanup;
    const where = this.inResumeCleanup ? `resuming (removing what the previous owner left at ${q.phase.replace(/_/g, ' ')})` : step.replace(/_/g, ' ');
    const reason = err instanceof QueueFailure ? err.message : `${where} failed: ${describeError(err)}`;
    this.env.log.error('queue migration failed', { queue: q.name, step, error: reason });
    markQueueFailed(q, reason);
    try {
      await this.w.actions.removeShovels();
      if (q.original) await this.gather();
    } catch (gatherErr) {
      q.location = 'unknown';
      q.error = `${reason}; could not establish where the messages are: ${describeError(gatherErr)}`;
    }
    await this.env.writer
      .checkpoint(this.w.index)
      .catch((e) => this.env.log.error('cannot record the failed queue', { queue: q.name, error: describeError(e) }));
  }

  private async gather(): Promise<void> {
    const { q, temporary, actions } = this.w;
    const seen = await actions.observe();
    const tempHas = (seen.temporaryCount ?? 0) > 0;
    const mainLocation = this.w.location(seen.main === 'target' ? 'target' : 'source');
    if (seen.main !== 'absent' && seen.temporary) {
      if (tempHas) {
        // Bring everything back under the queue's own name, where its clients look.
        const result = await actions.moveBack();
        this.w.audit('gather_messages', { from: temporary, into: q.name, moved: result.destinationCount - result.destinationBefore });
        q.detail.gathered_after_failure = { from: temporary, into: q.name, count: result.destinationCount };
      }
      const left = await actions.count(temporary);
      if (left === 0) {
        this.w.audit('delete_queue', { name: temporary, type: 'quorum', temporary: true, reason: 'empty after a failure' });
        await actions.deleteQueue(temporary);
      }
      q.location = mainLocation;
      return;
    }
    if (seen.main !== 'absent') q.location = mainLocation;
    else if (seen.temporary) q.location = 'temporary';
    else {
      q.location = 'unknown';
      q.error +=
        expectedCount(q) > 0 ? `; neither '${q.name}' nor '${temporary}' exists` : `; '${q.name}' is deleted and not declared again (it held no messages)`;
    }
  }
}
