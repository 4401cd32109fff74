/**
 * Where a queue's migration continues after its sidecar died (pure). The decision rests on what
 * the broker shows now (the queue under its own name, classic or quorum; the temporary queue and
 * the exact counts), not only on the last recorded phase, because a crash can fall between a step
 * and its checkpoint. Every step it can answer is idempotent.
 */
import type { QueueRecord } from '../state/records.js';

export const STEPS = ['save', 'empty_fast_path', 'declare_temporary', 'move_to_temporary', 'delete_classic', 'declare_quorum', 'move_to_quorum', 'delete_temporary', 'finish'] as const;
export type Step = (typeof STEPS)[number];

export interface ObservedQueue {
  /** The queue under its own name. */
  main: 'classic' | 'quorum' | 'absent';
  mainCount: number | null;
  temporary: boolean;
  temporaryCount: number | null;
}

export type ResumeDecision = { step: Step } | { skip: string } | { lost: string };

/** Messages this queue must end with: the saved exact count, plus stragglers adopted on the way. */
export function expectedCount(q: Pick<QueueRecord, 'original' | 'detail'>): number {
  const adjusted = q.detail?.expected;
  if (typeof adjusted === 'number') return adjusted;
  return q.original?.message_count ?? 0;
}

export function decideResumeStep(q: QueueRecord, seen: ObservedQueue): ResumeDecision {
  if (!q.original) {
    // Nothing was touched before the original was saved.
    if (seen.main === 'classic') return { step: 'save' };
    if (seen.main === 'quorum') return { skip: 'already a quorum queue (changed outside this migration)' };
    return { skip: 'queue no longer exists' };
  }
  const expected = expectedCount(q);
  switch (seen.main) {
    case 'classic':
      if (seen.temporary) return { step: 'move_to_temporary' };
      if ((seen.mainCount ?? 0) === 0 && expected === 0) return { step: 'empty_fast_path' };
      return { step: 'declare_temporary' };
    case 'absent':
      if (seen.temporary || expected === 0) return { step: 'declare_quorum' };
      return { lost: `neither the queue nor its temporary queue exists: ${expected} message(s) unaccounted for` };
    case 'quorum':
      return { step: 'declare_quorum' };
  }
}
