/**
 * Issue 13: the coordinating sidecar SIGKILLed in the middle of a large run (40 mirrored classic
 * queues, 30 × 3,000 persistent messages and 10 empty; topic and headers bindings, some with
 * x-max-length or a dead-letter exchange; `batch_size: all`, default concurrency), at a quarter,
 * half and three quarters of the queues, then started again 3 s later — or, instead, a second
 * sidecar beside another node resumes it. The resumed migration COMPLETES and every queue is
 * verified by content (the full integrity check: every message identical to before, no shovel or
 * temporary queue left, permissions and limits restored).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin } from '../support/cluster.js';
import { assertIntegrity } from '../support/integrity.js';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { cleanupRecords, diagnose, ISSUE_RUN, prepareLargeVhost, shovelParameterNames, startAll, waitCompletedQueues } from './large-vhost.js';
import { reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

const store = new MigrationStore(admin());
const TOTAL = ISSUE_RUN.full + ISSUE_RUN.empty;

type After = { after(fn: () => unknown): void };

/**
 * Starts the run on a sidecar beside node 1, SIGKILLs it once `killAt` queues completed, lets
 * `resumer` (called 3 s after the kill) resume it, and checks the outcome.
 */
async function killAndResume(t: After, killAt: number, resumer: (vhost: string) => Promise<SpawnedSidecar>, standby?: (vhost: string) => Promise<unknown>): Promise<void> {
  const p = await prepareLargeVhost(t);
  cleanupRecords(t, p.vhost);
  await standby?.(p.vhost);
  const first = await spawnSidecar(t, { env: reliabilityEnv(p.vhost, { QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 });
  const id = await startAll(first.url, p.vhost);
  const seen = await waitCompletedQueues(first.url, id, killAt);
  await first.kill('SIGKILL');
  const orphan = await store.loadRecord(id);
  assert.equal(orphan?.status, 'in_progress', 'the killed sidecar left its migration in progress');
  const leftovers = await shovelParameterNames(p.vhost);
  await sleep(3000);
  const second = await resumer(p.vhost);
  const detail = await waitTerminal(second.url, id, 300_000);
  if (detail.migration.status !== 'completed') assert.fail(await diagnose(id, p.vhost, [first.output(), second.output()]));
  const { record, queues } = await assertIntegrity(p.baseline, id);
  assert.equal(queues.length, TOTAL);
  for (const q of queues) assert.equal(q.status, 'completed', `${q.name}: ${q.status} ${q.error}`);
  assert.equal(record.completed_queues, TOTAL);
  assert.equal(record.failed_queues, 0);
  assert.ok(record.notes.some((n) => /resumed by/.test(n)), 'the record says it was resumed');
  // What the run went through, for the log of a CI run.
  t.after(() => console.log(`# killed at ${seen}/${TOTAL} completed queues; ${leftovers.length} shovel(s) left by the dead sidecar`));
  await second.kill('SIGTERM');
}

/** The killed sidecar started again beside the same node. */
const restart = (t: After) => (vhost: string) => spawnSidecar(t, { env: reliabilityEnv(vhost, { QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 });

test('SIGKILL a quarter into a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round(TOTAL / 4), restart(t));
});

test('SIGKILL half-way through a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round(TOTAL / 2), restart(t));
});

test('SIGKILL three quarters into a 40-queue run, restarted 3 s later: the migration completes', async (t) => {
  await killAndResume(t, Math.round((3 * TOTAL) / 4), restart(t));
});

test('SIGKILL a quarter into a 40-queue run; a second sidecar beside another node resumes it: the migration completes', async (t) => {
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
