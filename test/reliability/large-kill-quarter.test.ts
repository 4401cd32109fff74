/**
 * Issue 13: the coordinating sidecar SIGKILLed a quarter into a large run, started again 3 s
 * later: the resumed migration completes, every queue verified by content (large-kill-scenario.ts).
 * One scenario per file: each takes minutes, and the runner's timeout is per file.
 */
import { test } from 'node:test';
import { killAndResume, restart, TOTAL } from './large-kill-scenario.js';

test('SIGKILL a quarter into a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round(TOTAL / 4), restart(t));
});
