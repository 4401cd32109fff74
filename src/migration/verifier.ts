/**
 * Message-count verification after each move (pure).
 * - expected = the exact count saved before the queue was touched;
 * - default tolerance: 0 % under, 5 % over; the request's `tolerance` sets both;
 * - `allow_message_ttl: true` accepts any shortfall (messages may expire on the way) and says so.
 * Percentages are applied as whole messages, rounded down, so that 0 % means exact.
 */
import type { MigrationOptions } from '../state/records.js';

export const DEFAULT_UNDER_PERCENT = 0;
export const DEFAULT_OVER_PERCENT = 5;

export interface Tolerance {
  underPercent: number;
  overPercent: number;
  /** Any shortfall is accepted (per-message TTL). */
  allowShortfall: boolean;
}

export function toleranceFor(options: Pick<MigrationOptions, 'tolerance' | 'allow_message_ttl'>): Tolerance {
  const set = options.tolerance !== null && options.tolerance !== undefined;
  return {
    underPercent: set ? Number(options.tolerance) : DEFAULT_UNDER_PERCENT,
    overPercent: set ? Number(options.tolerance) : DEFAULT_OVER_PERCENT,
    allowShortfall: options.allow_message_ttl === true,
  };
}

export interface Verdict {
  ok: boolean;
  expected: number;
  actual: number;
  /** Smallest and largest accepted counts. */
  min: number;
  max: number;
  /** Why it failed, or what was accepted (e.g. a shortfall allowed by allow_message_ttl). */
  message: string | null;
}

/** Messages allowed off by `percent` of `expected`, as a whole number (rounded down). */
export function allowance(expected: number, percent: number): number {
  // The epsilon keeps 10 × 10 % from becoming 0.9999 of a message.
  return Math.max(0, Math.floor((expected * percent) / 100 + 1e-9));
}

export function verifyCount(expected: number, actual: number, tolerance: Tolerance, where = 'destination'): Verdict {
  const min = tolerance.allowShortfall ? 0 : expected - allowance(expected, tolerance.underPercent);
  const max = expected + allowance(expected, tolerance.overPercent);
  if (actual < min) {
    return {
      ok: false,
      expected,
      actual,
      min,
      max,
      message: `${where} has ${actual} of ${expected} messages (fewer than the ${tolerance.underPercent}% tolerance allows)`,
    };
  }
  if (actual > max) {
    return {
      ok: false,
      expected,
      actual,
      min,
      max,
      message: `${where} has ${actual} messages, expected ${expected} (more than the ${tolerance.overPercent}% tolerance allows)`,
    };
  }
  if (actual < expected) {
    return {
      ok: true,
      expected,
      actual,
      min,
      max,
      message:
        tolerance.allowShortfall && actual < expected - allowance(expected, tolerance.underPercent)
          ? `${expected - actual} of ${expected} messages missing, accepted because allow_message_ttl is set (they may have expired)`
          : `${expected - actual} of ${expected} messages missing, within the ${tolerance.underPercent}% tolerance`,
    };
  }
  if (actual > expected) {
    return {
      ok: true,
      expected,
      actual,
      min,
      max,
      message: `${actual - expected} more message(s) than the ${expected} expected, within the ${tolerance.overPercent}% tolerance`,
    };
  }
  return { ok: true, expected, actual, min, max, message: null };
}
