/**
 * Exit codes of the `qmig` client commands, the contract CI jobs rely on:
 *   0  ready / succeeded
 *   1  not ready / refused / failed (check not ready, start or xfer refused, a migration that ends
 *      failed, rollback_pending or interrupted, an unknown id)
 *   2  usage error (unknown flag, missing or bad value)
 *   3  cannot reach the sidecar or authenticate (connection refused, 401, 403, 429, 502, 503, 504)
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  /** Ctrl-C while following progress (the operation itself goes on). */
  interrupted: 130,
} as const;

/** HTTP statuses that mean "cannot reach or authenticate" rather than "refused". */
const UNREACHABLE_STATUSES = new Set([401, 403, 407, 429, 502, 503, 504]);

/** The exit code for an HTTP answer of the sidecar. */
export function exitCodeForStatus(status: number): number {
  if (status >= 200 && status < 300) return EXIT.ok;
  if (UNREACHABLE_STATUSES.has(status)) return EXIT.unreachable;
  return EXIT.failed;
}
