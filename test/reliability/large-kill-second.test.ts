/**
 * Issue 13: the coordinating sidecar SIGKILLed a quarter into a large run, and a second sidecar
 * beside another node resumes it instead of the killed one: the migration completes, every queue
 * verified by content (large-kill-scenario.ts). The second sidecar deletes the dead owner's
 * shovels through another node, which on 3.10 leaves their status rows listed as running
 * (src/broker/shovel-leftovers.ts): the integrity check asks the consumer list instead.
 */
import { test } from 'node:test';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { reliabilityEnv } from './reliability-support.js';
import { killAndResume, TOTAL } from './large-kill-scenario.js';

test('SIGKILL a quarter into a 40-queue run; a second sidecar beside another node resumes it: the migration completes', async (t) => {
  // The second sidecar already runs (it resumes orphans at start and on its housekeeping ticks,
  // here every 2 s instead of 30 s); the killed one is not started again.
  let second: SpawnedSidecar | null = null;
  await killAndResume(
    t,
    Math.round(TOTAL / 4),
    async () => second!,
    async (vhost) =>
      (second = await spawnSidecar(t, {
        node: 1,
        env: reliabilityEnv(vhost, { QMIG_HOUSEKEEPING_CRON: '*/2 * * * * *', QMIG_LOG_LEVEL: 'info' }),
        startTimeoutMs: 120_000,
      })),
  );
});
