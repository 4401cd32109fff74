/**
 * Issue 13: the coordinating sidecar SIGKILLed three quarters into a large run and started again
 * 3 s later: the resumed migration completes, every queue verified by content
 * (large-kill-scenario.ts; one scenario per file, as the runner's timeout is per file).
 */
import { test } from 'node:test';
import { killAndResume, restart, TOTAL } from './large-kill-scenario.js';

test('SIGKILL three quarters into a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round((3 * TOTAL) / 4), restart(t));
});
