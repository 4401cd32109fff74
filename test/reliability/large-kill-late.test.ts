/**
 * Issue 13: the coordinating sidecar SIGKILLed three quarters into a large run and started again
 * 3 s later; and killed a quarter in with a second sidecar beside another node resuming it instead.
 * The resumed migration completes, every queue verified by content (large-kill-scenario.ts).
 */
import { test } from 'node:test';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { reliabilityEnv } from './reliability-support.js';
import { killAndResume, restart, TOTAL } from './large-kill-scenario.js';

/**
 * Not yet run to the end on main (QMIG_OPEN_ISSUE_13=1 runs them): in the session that added them
 * the three-quarters run completed (its record), but the file hit the runner's timeout before the
 * integrity check, and the second-sidecar scenario never ran. Left out of `npm test` until issue 13
 * is closed, so that an unproven test cannot hold CI.
 */
const pending = process.env.QMIG_OPEN_ISSUE_13 !== '1' && 'issue 13 open: not yet proven on main (see the comment above)';

test('SIGKILL three quarters into a 40-queue run, restarted 3 s later: the migration completes', { skip: pending }, async (t) => {
  await killAndResume(t, Math.round((3 * TOTAL) / 4), restart(t));
});

test('SIGKILL a quarter into a 40-queue run; a second sidecar beside another node resumes it: the migration completes', { skip: pending }, async (t) => {
  // The second sidecar already runs (it resumes orphans at start and on its housekeeping ticks,
  // here every 2 s instead of 30 s); the killed one is not started again.
  let second: SpawnedSidecar | null = null;
  await killAndResume(
    t,
    Math.round(TOTAL / 4),
    async () => second!,
    async (vhost) => (second = await spawnSidecar(t, { node: 1, env: reliabilityEnv(vhost, { QMIG_HOUSEKEEPING_CRON: '*/2 * * * * *', QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 })),
  );
});
