/**
 * The scenario of issue 13's large-run kill tests (large-kill*.test.ts, split in files of two
 * scenarios so that each file stays well inside the runner's per-file timeout): the coordinating
 * sidecar SIGKILLed in the middle of a large run (40 mirrored classic queues, 30 × 3,000
 * persistent messages and 10 empty; topic and headers bindings, some with x-max-length or a
 * dead-letter exchange; `batch_size: all`, default concurrency), then resumed. The resumed
 * migration COMPLETES and every queue is verified by content (the full integrity check: every
 * message identical to before, no shovel or temporary queue left, permissions and limits restored).
 */
import assert from 'node:assert/strict';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin } from '../support/cluster.js';
import { assertIntegrity } from '../support/integrity.js';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { testSeal } from '../support/state-secret.js';
import { cleanupRecords, diagnose, ISSUE_RUN, prepareLargeVhost, shovelParameterNames, startAll, waitCompletedQueues } from './large-vhost.js';
import { reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

const store = new MigrationStore(admin(), testSeal());
export const TOTAL = ISSUE_RUN.full + ISSUE_RUN.empty;

export type After = { after(fn: () => unknown): void };

/**
 * Starts the run on a sidecar beside node 1, SIGKILLs it once `killAt` queues completed, lets
 * `resumer` (called 3 s after the kill) resume it, and checks the outcome.
 */
export async function killAndResume(
  t: After,
  killAt: number,
  resumer: (vhost: string) => Promise<SpawnedSidecar>,
  standby?: (vhost: string) => Promise<unknown>,
): Promise<void> {
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
  // Bounded well inside the runner's 10-minute per-file timeout, so that a run that does not end
  // fails with what the broker and both sidecars showed, not with a bare timeout.
  const detail = await waitTerminal(second.url, id, 360_000).catch(async (err: Error) =>
    assert.fail(`${err.message}\n${await diagnose(id, p.vhost, [first.output(), second.output()])}`),
  );
  if (detail.migration.status !== 'completed') assert.fail(await diagnose(id, p.vhost, [first.output(), second.output()]));
  const { record, queues } = await assertIntegrity(p.baseline, id);
  assert.equal(queues.length, TOTAL);
  for (const q of queues) assert.equal(q.status, 'completed', `${q.name}: ${q.status} ${q.error}`);
  assert.equal(record.completed_queues, TOTAL);
  assert.equal(record.failed_queues, 0);
  assert.ok(
    record.notes.some((n) => /resumed by/.test(n)),
    'the record says it was resumed',
  );
  // What the run went through, for the log of a CI run.
  t.after(() => console.log(`# killed at ${seen}/${TOTAL} completed queues; ${leftovers.length} shovel(s) left by the dead sidecar`));
  await second.kill('SIGTERM');
}

/** The killed sidecar started again beside the same node. */
export const restart = (t: After) => (vhost: string) => spawnSidecar(t, { env: reliabilityEnv(vhost, { QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 });
