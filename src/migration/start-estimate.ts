/**
 * The estimate a start records and judges its window with (pure, over planner.ts's plans): the
 * plan's central value and range, summed over the vhosts of a run over several (they run one after
 * the other), and the would_not_fit refusal of a start whose window (opening now, or at its
 * not_before) closes before the central estimate (fit-window.ts says why the central one).
 */
import { WouldNotFitError } from '../errors.js';
import type { MigrationOptions, MigrationRecord } from '../state/records.js';
import { fitsWindow } from './fit-window.js';
import type { MigrationPlan } from './planner.js';

export type RecordedEstimate = NonNullable<MigrationRecord['estimate']>;

export function recordedEstimate(plan: Pick<MigrationPlan, 'estimate'>): RecordedEstimate {
  const e = plan.estimate;
  return { seconds: e.seconds, low_seconds: e.low_seconds, high_seconds: e.high_seconds, calibrated_at: e.calibrated_at };
}

export function sumEstimates(estimates: RecordedEstimate[], calibratedAt: string): RecordedEstimate {
  const sum = (f: (e: RecordedEstimate) => number) => Math.round(estimates.reduce((t, e) => t + f(e), 0) * 100) / 100;
  return { seconds: sum((e) => e.seconds), low_seconds: sum((e) => e.low_seconds), high_seconds: sum((e) => e.high_seconds), calibrated_at: calibratedAt };
}

/** Throws would_not_fit (409) when a deadline is set and the estimate does not fit between `opensAt` and it. */
export function refuseUnfit(estimate: RecordedEstimate | null, opensAt: Date, options: Pick<MigrationOptions, 'deadline'>): void {
  if (!estimate || !options.deadline) return;
  const fit = fitsWindow(estimate, opensAt, new Date(options.deadline));
  if (fit.fits) return;
  throw new WouldNotFitError(
    `The plan estimates ${estimate.seconds} s (range ${estimate.low_seconds}-${estimate.high_seconds} s) but only ${fit.available_seconds} s remain before the deadline ${options.deadline} (the window opens at ${opensAt.toISOString()}); start with force: true to run anyway (no queue starts after the deadline)`,
    { seconds: estimate.seconds, low_seconds: estimate.low_seconds, high_seconds: estimate.high_seconds },
    fit.available_seconds,
  );
}
