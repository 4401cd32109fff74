/**
 * Scheduled runs (start with `not_before`), the pure part: what a start body may ask for, and
 * what a sidecar does with a `scheduled` record now. The waiting, opening and cancelling around
 * it are MigrationService's (migration-service.ts: schedule, openScheduled, armSchedules).
 */
import { BadRequestError } from '../errors.js';
import type { MigrationOptions, MigrationRecord } from '../state/records.js';

/** How far ahead a run may be scheduled (days). */
export const SCHEDULE_HORIZON_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * 400 for a `not_before` that is in the past, beyond the horizon, or not before the `deadline`
 * (both given). Nothing to say without one.
 */
export function validateSchedule(options: Pick<MigrationOptions, 'not_before' | 'deadline'>, now: Date): void {
  if (!options.not_before) return;
  const opens = Date.parse(options.not_before);
  if (!(opens > now.getTime())) throw new BadRequestError(`not_before ${options.not_before} is not in the future`);
  if (opens - now.getTime() > SCHEDULE_HORIZON_DAYS * DAY_MS) {
    throw new BadRequestError(`not_before ${options.not_before} is more than ${SCHEDULE_HORIZON_DAYS} days ahead`);
  }
  if (options.deadline && !(Date.parse(options.deadline) > opens)) {
    throw new BadRequestError(`not_before ${options.not_before} is not before the deadline ${options.deadline}`);
  }
}

/** What to do with a scheduled record now. */
export type ScheduledAction =
  /** Not a scheduled record (any more): nothing. */
  | { kind: 'none' }
  /** The window opens later: look again in `ms`. */
  | { kind: 'wait'; ms: number }
  /** An interrupt was asked for before it opened: it ends interrupted, nothing was touched. */
  | { kind: 'cancel' }
  /** Its deadline passed before it could open: it ends interrupted. */
  | { kind: 'expire' }
  /** The window is open: take the lock and open it. */
  | { kind: 'open' };

/** The longest a timer waits (setTimeout holds 2^31-1 ms at most; a later time is re-armed). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The decision for `record` at `now`, given whether its interrupt flag is set (pure). */
export function scheduledAction(
  record: Pick<MigrationRecord, 'status' | 'options' | 'interrupt_requested'>,
  now: Date,
  interruptFlag: boolean,
): ScheduledAction {
  if (record.status !== 'scheduled') return { kind: 'none' };
  if (interruptFlag || record.interrupt_requested) return { kind: 'cancel' };
  const deadline = record.options.deadline ? Date.parse(record.options.deadline) : NaN;
  if (Number.isFinite(deadline) && deadline <= now.getTime()) return { kind: 'expire' };
  const opens = record.options.not_before ? Date.parse(record.options.not_before) : NaN;
  // A scheduled record without a readable time opens at once (it was validated when stored).
  if (Number.isFinite(opens) && opens > now.getTime()) return { kind: 'wait', ms: Math.min(opens - now.getTime(), MAX_TIMER_MS) };
  return { kind: 'open' };
}

/** The note of a scheduled run that ended without running (the broker untouched). */
export const CANCELLED_NOTE = 'cancelled before its window opened: nothing was changed on the broker';
export const expiredNote = (deadline: string | null | undefined) =>
  `its deadline ${deadline} passed before its window could open (another run held the migration lock): nothing was changed on the broker`;
export const refusedNote = (message: string) => `not opened: the checks at its window refused it (${message}); nothing was changed on the broker`;
