/**
 * Where a queue's migration continues after its sidecar died (pure). The decision rests on what
 * the broker shows now (the queue under its own name, classic or quorum; the temporary queue and
 * the exact counts), not only on the last recorded phase, because a crash can fall between a step
 * and its checkpoint. Every step it can answer is idempotent.
 */
import type { QueueRecord, QueueStep } from '../state/records.js';

export type Step = QueueStep;

export interface ObservedQueue {
  /**
   * The queue under its own name: still of the type being replaced (`source`: classic in a
   * migration, quorum in a rollback), already of the new type (`target`), or absent.
   */
  main: 'source' | 'target' | 'absent';
  mainCount: number | null;
  temporary: boolean;
  temporaryCount: number | null;
  /**
   * False when that quorum queue exists but has no running leader — as a quorum queue whose
   * declare was cut short (its sidecar killed mid-declare) stays on 3.10: the record exists, no
   * replica runs, a shovel into it moves nothing. Absent: not known / not a quorum queue.
   */
  mainAvailable?: boolean;
  temporaryAvailable?: boolean;
}

/**
 * `discard`: a quorum queue has no running replica and, as the counts show, holds nothing that is
 * not also in the other queue — delete it before the step (which declares it again): the
 * temporary queue when the classic queue holds everything, the new queue (`main`, once, clients
 * fenced) when the temporary queue holds everything.
 * `blocked`: the messages sit in a queue without a running replica; nothing is changed. The
 * caller waits for a leader (after a whole-cluster restart leaders come back within a minute)
 * and fails the queue with this reason if none comes.
 */
export type ResumeDecision = { step: Step; discard?: 'temporary' | 'main' } | { skip: string } | { lost: string } | { blocked: string };

/** What the run knows beside the broker's state. */
export interface ResumeContext {
  /** The vhost's clients are fenced: nobody but qmig can have published into the new queue. */
  clientsFenced?: boolean;
  /** This run already deleted and declared the new queue again once. */
  mainDeclaredAgain?: boolean;
}

const UNAVAILABLE = 'has no running replica (no leader)';

/** Messages this queue must end with: the saved exact count, plus stragglers adopted on the way. */
export function expectedCount(q: Pick<QueueRecord, 'original' | 'detail'>): number {
  const adjusted = q.detail?.expected;
  if (typeof adjusted === 'number') return adjusted;
  return q.original?.message_count ?? 0;
}

export function decideResumeStep(q: QueueRecord, seen: ObservedQueue, run: ResumeContext = {}): ResumeDecision {
  if (!q.original) {
    // Nothing was touched before the original was saved.
    if (seen.main === 'source') return { step: 'save' };
    if (seen.main === 'target') return { skip: 'already of the new queue type (changed outside this run)' };
    return { skip: 'queue no longer exists' };
  }
  const expected = expectedCount(q);
  switch (seen.main) {
    case 'source':
      if (seen.temporary && seen.temporaryAvailable === false) {
        if ((seen.mainCount ?? 0) >= expected) return { step: 'declare_temporary', discard: 'temporary' };
        return {
          blocked: `the temporary queue ${UNAVAILABLE} and the classic queue holds ${seen.mainCount ?? 0} of ${expected} message(s): nothing was changed; start its replicas and resume`,
        };
      }
      if (seen.temporary) return { step: 'move_to_temporary' };
      if ((seen.mainCount ?? 0) === 0 && expected === 0) return { step: 'empty_fast_path' };
      return { step: 'declare_temporary' };
    case 'absent':
      if (seen.temporary && seen.temporaryAvailable === false)
        return { blocked: `the temporary queue holds the messages and ${UNAVAILABLE}: nothing was changed; start its replicas and resume` };
      if (seen.temporary || expected === 0) return { step: 'declare_quorum' };
      return { lost: `neither the queue nor its temporary queue exists: ${expected} message(s) unaccounted for` };
    case 'target':
      if (seen.mainAvailable === false) {
        // A new quorum queue whose declare was cut short (by a whole-cluster stop: measured) stays
        // without a leader. With clients fenced nobody else published into it, so when the
        // temporary queue holds every message (or none was expected), it holds nothing of ours:
        // declare it again, once. Without the fence, clients may have published into it.
        const temporaryHoldsAll = seen.temporary
          ? seen.temporaryAvailable !== false && seen.temporaryCount !== null && seen.temporaryCount >= expected
          : expected === 0;
        if (run.clientsFenced && !run.mainDeclaredAgain && temporaryHoldsAll) return { step: 'declare_quorum', discard: 'main' };
        return { blocked: `the new queue ${UNAVAILABLE}: nothing was changed; start its replicas and resume` };
      }
      return { step: 'declare_quorum' };
  }
}

/**
 * A repaired queue's new baseline (pure): clients were let back in after the migration failed, so
 * the messages it must end with are what the queue and its temporary queue hold now (counted once,
 * with no shovel running). Null when a count is missing (a queue without a running replica: the
 * decision then blocks).
 */
export function rebaselined(q: Pick<QueueRecord, 'original' | 'detail'>, seen: ObservedQueue): number | null {
  if (!q.original) return null;
  if ((seen.main !== 'absent' && seen.mainCount === null) || (seen.temporary && seen.temporaryCount === null)) return null;
  return (seen.mainCount ?? 0) + (seen.temporaryCount ?? 0);
}
