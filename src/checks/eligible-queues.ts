/**
 * eligible_queues: start refuses when nothing would be migrated — no mirrored classic queue in
 * the vhost, every one skipped as unsuitable, or `queue_names` naming only queues that do not
 * exist or are not mirrored classic queues. `check` reports the same verdict, so overall_ready
 * is false whenever start would answer "No eligible queues found for migration".
 */
import type { NamedReason } from './queue-selection.js';
import { failed, passed, type SystemCheck } from './types.js';

export const NO_ELIGIBLE_REASON = 'No eligible queues found for migration';

export interface EligibleInput {
  toMigrate: number;
  candidates: number;
  skippedUnsuitable: number;
  requestedNames: string[] | null;
  notFound: string[];
  ineligible: NamedReason[];
}

export function checkEligibleQueues(i: EligibleInput): SystemCheck {
  const details = {
    queues_to_migrate: i.toMigrate,
    candidates: i.candidates,
    skipped_unsuitable: i.skippedUnsuitable,
    requested_queue_names: i.requestedNames,
    not_found: i.notFound,
    ineligible: i.ineligible,
  };
  if (i.toMigrate > 0) {
    const skipped = i.skippedUnsuitable + i.notFound.length + i.ineligible.length;
    return passed('eligible_queues', `${i.toMigrate} queue(s) will be migrated${skipped > 0 ? `, ${skipped} skipped` : ''}`, details);
  }
  if (i.requestedNames && i.requestedNames.length > 0 && i.candidates === 0) {
    const parts = [
      i.notFound.length > 0 ? `not found: ${i.notFound.join(', ')}` : '',
      i.ineligible.length > 0 ? `not mirrored classic queues: ${i.ineligible.map((x) => `${x.name} (${x.reason})`).join(', ')}` : '',
    ].filter(Boolean);
    return failed('eligible_queues', `${NO_ELIGIBLE_REASON}: none of the requested queue_names can be migrated (${parts.join('; ')})`, details);
  }
  if (i.candidates > 0) {
    return failed('eligible_queues', `${NO_ELIGIBLE_REASON}: all ${i.candidates} mirrored queue(s) are unsuitable and would be skipped`, details);
  }
  return failed('eligible_queues', NO_ELIGIBLE_REASON, details);
}
