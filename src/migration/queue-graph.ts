/**
 * The workflow of one queue, mirrored classic → quorum, in place (issue 3, "Per queue, two phases"):
 *
 *   save ─┬─ (empty) empty_fast_path: delete (if-empty) ─────────────────┐
 *         └─ declare_temporary → move_to_temporary (shovel, verify)        │
 *              → delete_classic (temporary bound first; if-empty)          │
 *                                                   declare_quorum (translated args, leader on
 *                                                   the old master's node, bindings) ◄┘
 *              → move_to_quorum (temporary unbound; shovel, verify) → delete_temporary → finish
 *
 * STEP_GRAPH gives each step (state/records.ts QUEUE_STEPS) its straight-line code, which answers
 * the next step (null: done). Steps decide; the broker is reached through QueueActions only. Every
 * step is idempotent, and a resumed or retried queue starts from the step that the broker's actual
 * state calls for (resumeStep: resume.ts's pure decision, plus discarding a dead temporary queue).
 *
 * A new phase: its name in QUEUE_STEPS, its entry here (and the edge that leads to it), and the
 * broker action it needs in QueueActions if there is no such action yet.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import { ShovelStalledError, type MoveResult } from '../broker/shovels.js';
import { sleep } from '../async/concurrency.js';
import { isMirroredClassic, isQuorum } from '../checks/queue-selection.js';
import type { OriginalQueue, QueueStep } from '../state/records.js';
import { translateArguments } from './argument-translation.js';
import { adopt, check, copyRemovalRounds, move, removeCopies, verify } from './queue-accounting.js';
import { noteTtl } from './expiry-accounting.js';
import { BrokerError } from '../errors.js';
import { QueueFailure, QueueSkip } from './queue-errors.js';
import { temporaryReplicas, type QueueWork } from './queue-work.js';
import { decideResumeStep, expectedCount, rebaselined } from './resume.js';
import { markQueueCompleted } from './status.js';
import { saveForRollback } from './rollback-save.js';

/** Times one queue's copies are taken out after broker redeliveries before the count check decides. */
const MAX_COPY_REMOVAL_ROUNDS = 3;

export type StepFn = (w: QueueWork) => Promise<QueueStep | null>;

export const STEP_GRAPH: Record<QueueStep, StepFn> = {
  async save(w) {
    if (w.rollingBack) return saveForRollback(w);
    const q = w.q;
    const info = await readPlannedQueue(w);
    if (!info) throw new QueueSkip('queue no longer exists');
    if (isQuorum(info)) throw new QueueSkip('already a quorum queue');
    if (!isMirroredClassic(info)) throw new QueueSkip('not mirrored (no ha-mode in its effective policy)');
    if (info.exclusive) throw new QueueSkip('exclusive queue (quorum queues cannot be exclusive)');
    if (!info.durable) throw new QueueSkip('not durable (quorum queues are always durable)');
    if (w.env.preexistingTemporaryQueues.has(w.temporary))
      throw new QueueFailure(`temporary queue '${w.temporary}' already exists (left by an earlier migration?); nothing was changed`);
    const [bindings, count] = await Promise.all([w.actions.bindingsOf(q.name), w.actions.count(q.name)]);
    if (count === null) throw new QueueSkip('queue no longer exists');
    q.original = originalOf(info, bindings, count);
    q.total_messages = count;
    q.migrated_messages = 0;
    q.detail.temporary_queue = w.temporary;
    // The temporary queue gets a replica on each running node, up to three (queue-work.ts
    // temporaryReplicas): it survives one node stopping mid-move. The final quorum queue gets the
    // broker's full default membership.
    q.detail.temporary_replicas = temporaryReplicas(w.env.runningNodes);
    q.detail.consumers_at_start = info.consumers ?? 0;
    const translated = translateArguments(info.arguments);
    if (translated.dropped.length > 0) q.detail.dropped_arguments = translated.dropped;
    await noteTtl(w, info, count); // what says its messages can expire (expiry-accounting.ts)
    await w.checkpointPhase('save', 'source');
    return count === 0 ? 'empty_fast_path' : 'declare_temporary';
  },

  async empty_fast_path(w) {
    await w.checkpointPhase('empty_fast_path', 'source');
    w.audit('delete_queue', { type: w.direction.source, if_empty: true, reason: `empty queue: delete and redeclare as ${w.direction.target}` });
    if (!(await w.actions.deleteIfEmpty(w.q.name))) {
      // Not empty any more: take the full path with what is there now.
      adopt(w, (await w.actions.count(w.q.name)) ?? 0, 'arrived before the empty queue could be deleted');
      return 'declare_temporary';
    }
    w.temporaryExists = false;
    w.at('target');
    return 'declare_quorum';
  },

  async declare_temporary(w) {
    w.enter('declare_temporary');
    w.audit('declare_queue', { name: w.temporary, type: 'quorum', temporary: true, node: w.q.original?.node ?? null });
    const replicas = w.q.detail.temporary_replicas;
    await w.actions.declareTemporary(typeof replicas === 'number' ? replicas : undefined, w.q.original?.node ?? null);
    w.temporaryExists = true;
    return 'move_to_temporary';
  },

  async move_to_temporary(w) {
    await w.checkpointPhase('move_to_temporary', 'source');
    let result: MoveResult;
    try {
      result = await move(w, w.q.name, w.temporary, 'to-temporary');
    } catch (err) {
      // Only with clients fenced: otherwise publishers could have refilled the classic queue, and
      // its count would not prove that the temporary queue holds nothing of ours.
      if (!(err instanceof ShovelStalledError) || w.temporaryDeclaredAgain || !w.clientsFenced) throw err;
      // A temporary quorum queue whose declare was cut short (its sidecar killed mid-declare)
      // exists without a running replica on 3.10, and the broker may still name a leader for it:
      // the shovel into it "runs" and moves nothing. When the classic queue still holds every
      // message, the temporary queue holds nothing of ours: declare it again, once.
      // The stopped shovel's unacknowledged messages come back to the classic queue in a moment.
      let inClassic = 0;
      for (let i = 0; i < 10 && inClassic < expectedCount(w.q); i++) {
        if (i > 0) await sleep(300);
        inClassic = (await w.actions.count(w.q.name)) ?? 0;
      }
      if (inClassic < expectedCount(w.q)) throw err;
      w.temporaryDeclaredAgain = true;
      w.log.warn('nothing could be moved into the temporary queue; the classic queue holds every message: declaring the temporary queue again', {
        queue: w.q.name,
        error: err.message,
      });
      w.audit('delete_queue', {
        name: w.temporary,
        type: 'quorum',
        temporary: true,
        reason: `a shovel into it moved nothing (${err.message}); every message is in the classic queue`,
      });
      await w.actions.deleteQueue(w.temporary);
      w.temporaryExists = false;
      return 'declare_temporary';
    }
    if (w.clientsFenced && result.destinationCount > expectedCount(w.q)) {
      // Copies from a broker redelivery: the second move takes them out (move_to_quorum).
      w.q.detail.surplus_in_temporary = result.destinationCount - expectedCount(w.q);
      w.log.warn('the temporary queue holds more messages than expected (broker redelivery); the second move removes the copies', {
        queue: w.q.name,
        surplus: w.q.detail.surplus_in_temporary,
      });
    } else check(w, result, 'temporary queue');
    w.at('temporary');
    w.q.detail.verified_temporary = { expected: expectedCount(w.q), actual: result.destinationCount };
    return 'delete_classic';
  },

  async delete_classic(w) {
    // The temporary queue takes over the bindings first, so nothing routed meanwhile is dropped.
    await bindAll(w, w.temporary);
    await w.checkpointPhase('delete_classic', 'temporary');
    w.audit('delete_queue', { type: w.direction.source, if_empty: true, messages_moved_to: w.temporary });
    if (!(await w.actions.deleteIfEmpty(w.q.name))) {
      adopt(w, (await w.actions.count(w.q.name)) ?? 0, 'arrived in the classic queue after the first move');
      return 'move_to_temporary';
    }
    return 'declare_quorum';
  },

  async declare_quorum(w) {
    const original = w.q.original!;
    // In memory only: the location does not change here, and a resume reads the broker anyway.
    w.enter('declare_quorum');
    // A rollback declares the classic queue with the arguments it had (saved by the migration).
    const translated = w.rollingBack ? { arguments: original.arguments, dropped: [] } : translateArguments(original.arguments);
    w.audit('declare_queue', { type: w.direction.target, arguments: translated.arguments, dropped_arguments: translated.dropped, node: original.node });
    await w.actions.declareTarget(translated.arguments, original.node);
    await bindAll(w, w.q.name);
    if (w.temporaryExists === null) w.temporaryExists = await w.actions.exists(w.temporary);
    return w.temporaryExists ? 'move_to_quorum' : 'finish';
  },

  async move_to_quorum(w) {
    // The quorum queue is bound; unbinding the temporary queue stops it from receiving anything new.
    // The temporary queue only ever got the original bindings (none: nothing to look up).
    if ((w.q.original?.bindings.length ?? 0) > 0) await w.actions.unbindTemporary();
    await w.checkpointPhase('move_to_quorum', 'temporary');
    const expected = expectedCount(w.q);
    const removable = w.clientsFenced && w.q.detail.copies_indistinct !== true;
    if (removable) {
      const surplus = ((await w.actions.count(w.temporary)) ?? 0) - expected;
      if (surplus > 0) await removeCopies(w, w.temporary, w.q.name, surplus);
    }
    const result = await move(w, w.temporary, w.q.name, 'to-quorum');
    const over = result.destinationCount - expected;
    if (removable && w.q.detail.copies_indistinct !== true && over > 0 && copyRemovalRounds(w) < MAX_COPY_REMOVAL_ROUNDS) {
      // The broker redelivered during this move: take the messages back into the temporary
      // queue without the copies, then move them again.
      await removeCopies(w, w.q.name, w.temporary, over);
      return 'move_to_quorum';
    }
    check(w, result, `${w.direction.target} queue`);
    w.at('target');
    w.q.detail.verified_quorum = { expected: expectedCount(w.q), actual: result.destinationCount };
    return 'delete_temporary';
  },

  async delete_temporary(w) {
    w.enter('delete_temporary');
    const left = await w.actions.count(w.temporary);
    if (left !== null && left > 0) {
      adopt(w, left, 'arrived in the temporary queue after the second move');
      return 'move_to_quorum';
    }
    if (left !== null) {
      w.audit('delete_queue', { name: w.temporary, type: 'quorum', temporary: true });
      await w.actions.deleteQueue(w.temporary);
    }
    w.temporaryExists = false;
    return 'finish';
  },

  async finish(w) {
    const q = w.q;
    // A shovel of this queue that exists now was created by a request the broker carried out
    // late (after the client gave up on it): remove it and start again from what is there.
    if (w.shovelsPossible && (await w.actions.removeShovels()) > 0) {
      w.log.warn('a late shovel of this queue was found and removed; re-checking the queue', { queue: q.name });
      w.verifiedInThisRun = false;
      return resumeStep(w);
    }
    // The last word is the quorum queue's count now: a resumed run has not verified it, and a
    // redelivery after a broker failure can land after the move's own check. With clients fenced
    // nothing else changes it; without the fence clients may already consume, so only a resumed
    // run (which has no other check) looks.
    if ((w.clientsFenced || !w.verifiedInThisRun) && expectedCount(q) > 0) {
      verify(w, (await w.actions.count(q.name)) ?? 0, `${w.direction.target} queue`);
    }
    markQueueCompleted(q);
    await w.checkpointPhase('finish', 'target');
    w.enter('done');
    return null;
  },
};

/**
 * A queue planned at start that the broker does not list: while a node boots (a whole-cluster
 * restart) its durable queues are listed only once recovered — a queue was skipped as gone that
 * then held all its messages (measured). Read again for up to QUEUE_GONE_CONFIRM_MS before
 * believing it is gone (a queue really deleted meanwhile is skipped that much later).
 */
export const QUEUE_GONE_CONFIRM_MS = 30_000;
async function readPlannedQueue(w: QueueWork): Promise<BrokerQueue | null> {
  const until = Date.now() + QUEUE_GONE_CONFIRM_MS;
  for (;;) {
    const info = await w.actions.readQueue();
    if (info || Date.now() > until || w.env.shouldAbort()) return info;
    w.log.warn('a queue planned at start is not listed; reading it again before skipping it', { queue: w.q.name });
    await sleep(2000);
  }
}

/** The step that the broker's state calls for (resume, retry, a late shovel): resume.ts decides. */
export async function resumeStep(w: QueueWork): Promise<QueueStep> {
  const seen = await w.actions.observe();
  w.temporaryExists = seen.temporary;
  if (w.q.detail.rebaseline === true) {
    const count = rebaselined(w.q, seen);
    if (count !== null) {
      w.log.info('repair: the messages counted again as the new baseline', { queue: w.q.name, before: expectedCount(w.q), now: count });
      w.q.detail.verification_notes = [
        ...(w.q.detail.verification_notes ?? []),
        `repair: ${count} message(s) counted as the new baseline (the migration had ${expectedCount(w.q)})`,
      ];
      w.q.detail.expected = count;
      w.q.total_messages = count;
      delete w.q.detail.rebaseline;
    }
  }
  const decision = decideResumeStep(w.q, seen, { clientsFenced: w.clientsFenced, mainDeclaredAgain: w.mainDeclaredAgain });
  w.log.info('resuming queue', { queue: w.q.name, phase: w.q.phase, decision });
  if ('skip' in decision) throw new QueueSkip(decision.skip);
  // Neither queue listed is no proof while the broker recovers: after a whole-cluster restart a
  // queue was reported missing and then found with all its messages (measured). Transient too:
  // the runner looks again within its outage budget, then fails the queue with this reason.
  if ('lost' in decision) throw new BrokerError(decision.lost);
  // A quorum queue without a leader: transient (the runner waits within its outage budget, then
  // fails the queue with this reason). After a whole-cluster restart the leaders of the queues
  // being migrated came back within a minute; a declare cut short never does.
  if ('blocked' in decision) throw new BrokerError(decision.blocked);
  if (decision.discard && !w.clientsFenced) {
    // Unfenced clients may have published into the classic queue since the temporary queue took
    // messages: its count no longer proves the temporary queue holds nothing of ours.
    throw new QueueFailure(
      "the temporary queue has no running replica (no leader) and clients are not fenced, so the classic queue's count cannot prove it empty: nothing was changed; start its replicas and resume",
    );
  }
  if (decision.discard === 'main') {
    w.log.warn('the new queue has no running replica and the temporary queue holds every message; declaring the new queue again', { queue: w.q.name });
    w.audit('delete_queue', {
      type: w.direction.target,
      reason: 'no running replica (a declare cut short); every message is in the temporary queue',
    });
    w.mainDeclaredAgain = true;
    await w.actions.deleteQueue(w.q.name);
  } else if (decision.discard) {
    w.log.warn('the temporary queue has no running replica and holds nothing the classic queue lacks; declaring it again', { queue: w.q.name });
    w.audit('delete_queue', {
      name: w.temporary,
      type: 'quorum',
      temporary: true,
      reason: 'no running replica (a declare cut short); every message is in the classic queue',
    });
    await w.actions.deleteQueue(w.temporary);
    w.temporaryExists = false;
  }
  return decision.step;
}

async function bindAll(w: QueueWork, queue: string): Promise<void> {
  const bindings = w.q.original?.bindings ?? [];
  if (bindings.length === 0) return;
  w.audit('bind', { queue_bound: queue, bindings: bindings.length });
  await w.actions.bind(queue, bindings);
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
