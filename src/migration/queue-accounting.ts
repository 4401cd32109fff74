/**
 * The counting side of a queue's steps: how many messages must arrive (stragglers adopted on the
 * way), the count checks and their notes, the moves with their progress, and the removal of
 * copies a broker redelivery made. Decisions only; the broker is reached through QueueActions.
 */
import type { MoveDirection } from '../broker/names.js';
import type { MoveResult } from '../broker/shovels.js';
import { accountExpired } from './expiry-accounting.js';
import { QueueFailure } from './queue-errors.js';
import type { QueueWork } from './queue-work.js';
import { expectedCount } from './resume.js';
import { verifyCount } from './verifier.js';

/** Rounds of "new messages appeared, move them too" before a queue gives up. */
const MAX_STRAGGLER_ROUNDS = 3;

/**
 * Messages found in `where` after it was emptied. They are always moved too (nothing is left
 * behind). Without the fence they are new publishes and become part of what must arrive; with
 * the fence they are redeliveries: the expected count stays, the copies they make are taken
 * out by the second move, and what cannot be taken out meets the count check (reported, never
 * silently accepted).
 */
export function adopt(w: QueueWork, extra: number, why: string): void {
  const d = w.q.detail;
  const rounds = (typeof d.straggler_rounds === 'number' ? d.straggler_rounds : 0) + 1;
  if (rounds > MAX_STRAGGLER_ROUNDS) throw new QueueFailure(`new messages keep arriving (${extra} ${why}); are clients still publishing?`);
  d.straggler_rounds = rounds;
  if (w.clientsFenced) {
    d.redelivered_messages = (typeof d.redelivered_messages === 'number' ? d.redelivered_messages : 0) + extra;
    w.log.warn('messages reappeared while clients are fenced (broker redelivery, possible duplicates); moving them, the count check decides', {
      queue: w.q.name,
      extra,
      why,
    });
    return;
  }
  d.expected = expectedCount(w.q) + extra;
  w.q.total_messages = d.expected;
  w.log.warn('messages appeared during the migration; moving them too', { queue: w.q.name, extra, why });
}

export function copyRemovalRounds(w: QueueWork): number {
  return typeof w.q.detail.copy_removal_rounds === 'number' ? w.q.detail.copy_removal_rounds : 0;
}

/**
 * Moves `source` into `destination` leaving out the `surplus` copies a broker redelivery made
 * (src/broker/sidecar-move.ts); when copies cannot be told apart from messages that were
 * identical before, nothing is dropped and the count check judges the surplus.
 */
export async function removeCopies(w: QueueWork, source: string, destination: string, surplus: number): Promise<void> {
  const d = w.q.detail;
  d.copy_removal_rounds = copyRemovalRounds(w) + 1;
  w.audit('remove_copies', { from: source, into: destination, surplus });
  const result = await w.actions.removeCopies(source, destination, surplus);
  w.audit('copies_removed', { from: source, into: destination, ...result });
  if (result.stopped) {
    // The rest stays in the source; the move that follows takes it (a shovel where needed).
    d.copies_indistinct = true;
    noteVerdict(w, `${surplus} surplus message(s) after a broker redelivery were not removed: ${result.stopped}`, true);
    w.log.warn('copies not removed: the sidecar cannot move every message itself', { queue: w.q.name, surplus, reason: result.stopped });
    return;
  }
  if (result.removed > 0) {
    d.copies_removed = (typeof d.copies_removed === 'number' ? d.copies_removed : 0) + result.removed;
    noteVerdict(
      w,
      `${result.removed} duplicate(s) that the broker redelivered after a failure were removed (each was an exact copy of a message already moved)`,
      true,
    );
    w.log.warn('removed copies made by a broker redelivery', { queue: w.q.name, removed: result.removed });
  } else {
    // The same messages would be just as indistinct in another pass.
    d.copies_indistinct = true;
    noteVerdict(
      w,
      `${surplus} surplus message(s) after a broker redelivery could not be told apart from messages that were identical before; none was removed`,
      true,
    );
    w.log.warn('surplus messages could not be told apart; none removed', { queue: w.q.name, surplus, candidates: result.candidates });
  }
}

/** One move of the queue's messages, its progress shown as half of the queue's (two moves make it). */
export async function move(w: QueueWork, source: string, destination: string, direction: MoveDirection): Promise<MoveResult> {
  const total = expectedCount(w.q);
  const base = direction === 'to-quorum' ? Math.floor(total / 2) : 0;
  let shovel = false;
  const result = await w.actions.move({
    source,
    destination,
    direction,
    progress: (moved) => {
      w.q.migrated_messages = Math.min(total, base + Math.floor(Math.min(moved, total) / 2));
      w.env.writer.touch(w.index);
    },
    usingShovel: (name) => {
      shovel = true;
      w.q.detail.shovel = name;
      w.shovelsPossible = true;
    },
  });
  if (shovel) delete w.q.detail.shovel;
  return result;
}

export function check(w: QueueWork, result: MoveResult, where: string): void {
  verify(w, result.destinationCount, where, result);
  w.verifiedInThisRun = true;
}

/**
 * The count check against what must arrive; a surplus is recorded (`excess_messages`) and
 * explained; messages that expired are counted first (`expired_messages`, expiry-accounting.ts)
 * and no longer expected, so the check stays exact.
 */
export function verify(w: QueueWork, actual: number, where: string, moved?: MoveResult): void {
  const notExpired = accountExpired(w, expectedCount(w.q), actual, where, moved);
  const verdict = verifyCount(expectedCount(w.q), actual, w.env.tolerance, where);
  if (notExpired && verdict.message) verdict.message += ` (not counted as expired: ${notExpired})`;
  if (verdict.actual > verdict.expected) {
    w.q.detail.excess_messages = verdict.actual - verdict.expected;
    if (w.clientsFenced && verdict.message) {
      verdict.message += '; clients are fenced, so the surplus are copies the broker redelivered (at-least-once, e.g. after a node stopped during the move)';
    }
  } else delete w.q.detail.excess_messages;
  noteVerdict(w, verdict.message, verdict.ok);
  if (!verdict.ok) throw new QueueFailure(verdict.message!);
}

function noteVerdict(w: QueueWork, message: string | null, ok: boolean): void {
  if (!message || !ok) return;
  const notes = Array.isArray(w.q.detail.verification_notes) ? w.q.detail.verification_notes : [];
  notes.push(message);
  w.q.detail.verification_notes = notes;
  if (/allow_message_ttl/.test(message)) w.env.migration.notes.push(`queue '${w.q.name}': ${message}`);
}
