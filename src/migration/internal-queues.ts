/**
 * Queues that qmig itself declares, which are never a migration's business (never selected,
 * never judged by a check, never counted as unsuitable):
 *   qmig.lock.*    cluster-wide locks (exclusive queues in QMIG_STATE_VHOST, default `qmig.state`);
 *   qmig.run.*, qmig.fence.*  the fence vault in QMIG_STATE_VHOST (src/state/fence-vault.ts);
 *   qmig.tmp.*     temporary quorum queues of a migration (queue-runner.ts);
 *   qmig.probe.*   the relaxed-checks probe (checks/relaxed-checks.ts), alive for a moment.
 * The prefixes are literals so that this module imports nothing; internal-queues.test.ts checks
 * them against the names the engine, the lock and the probe really use.
 */
export const INTERNAL_QUEUE_PREFIXES = ['qmig.lock.', 'qmig.tmp.', 'qmig.probe.', 'qmig.run.', 'qmig.fence.'] as const;

export function isInternalQueue(name: string): boolean {
  return INTERNAL_QUEUE_PREFIXES.some((p) => name.startsWith(p));
}
