/**
 * Issue 13: the coordinating sidecar SIGKILLed half-way into a large run, started again 3 s
 * later: the resumed migration completes, every queue verified by content (large-kill-scenario.ts).
 */
import { test } from 'node:test';
import { killAndResume, restart, TOTAL } from './large-kill-scenario.js';

test('SIGKILL half-way through a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round(TOTAL / 2), restart(t));
});
