/**
 * Does a run fit its window? (pure). The window opens at `opensAt` (now; a start's not_before
 * when it has one) and closes at the start's `deadline`. The CENTRAL estimate is judged, not the
 * high one: a run that overruns its deadline is safe (no queue starts after it, the rest stay
 * mirrored classic and are listed in the notes), so refusing on the pessimistic bound would turn
 * away runs that most likely fit; the range is shown to the operator, who can `force`.
 */
export interface FitVerdict {
  fits: boolean;
  needed_seconds: number;
  available_seconds: number;
}

export function fitsWindow(estimate: { seconds: number }, opensAt: Date, deadline: Date): FitVerdict {
  const available = (deadline.getTime() - opensAt.getTime()) / 1000;
  return { fits: estimate.seconds <= available, needed_seconds: estimate.seconds, available_seconds: Math.round(available * 100) / 100 };
}
