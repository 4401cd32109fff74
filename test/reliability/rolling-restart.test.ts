/**
 * Issue 11: sealed state across restarts. Three sidecars (one beside each node) are restarted one
 * after the other — the owner of a running migration first (SIGTERM: it stops taking steps and
 * frees the lock), then the other two while the migration is resumed — and the migration written
 * by the sealing code keeps working: it is resumed, completes, every queue verified by content,
 * and every restarted sidecar lists it and an earlier finished migration as verified records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertIntegrity } from '../support/integrity.js';
import { spawnSidecar, type SpawnedSidecar } from '../support/sidecar.js';
import { cleanupRecords, waitCompletedQueues } from './large-vhost.js';
import { apiJson, prepareVhost, reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

const startUrl = (base: string, vhost: string) => `${base}/api/queue-migration/start/${encodeURIComponent(vhost)}`;

test('a rolling restart of all three sidecars in the middle of a migration: it is resumed and completes, and every sidecar lists the sealed records', async (t) => {
  const earlier = await prepareVhost(t, [{ name: 'q-done', messages: 50, node: 0 }], 1);
  const p = await prepareVhost(t, [
    { name: 'q-1', messages: 1500, node: 0 },
    { name: 'q-2', messages: 1500, node: 1 },
    { name: 'q-3', messages: 1500, node: 2 },
    { name: 'q-4', messages: 1500, node: 0 },
    { name: 'q-5', messages: 300, node: 1 },
    { name: 'q-6', messages: 0, node: 2 },
  ]);
  cleanupRecords(t, earlier.vhost);
  cleanupRecords(t, p.vhost);
  // One state vhost for the three sidecars (the lock and the run markers live there); housekeeping
  // every 2 s so that a running sidecar resumes the orphan quickly. One queue at a time keeps the
  // run long enough for every restart to land in its middle.
  const env = reliabilityEnv(p.vhost, { QMIG_HOUSEKEEPING_CRON: '*/2 * * * * *', QMIG_MIGRATION_CONCURRENCY: '1', QMIG_LOG_LEVEL: 'info' });
  const spawn = (node: number) => spawnSidecar(t, { node, env, startTimeoutMs: 120_000 });
  const sidecars: SpawnedSidecar[] = [await spawn(0), await spawn(1), await spawn(2)];

  const done = await apiJson(startUrl(sidecars[0].url, earlier.vhost), 'POST', { batch_size: 'all' });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const doneId: string = done.body.migration_id;
  assert.equal((await waitTerminal(sidecars[0].url, doneId)).migration.status, 'completed');

  const started = await apiJson(startUrl(sidecars[0].url, p.vhost), 'POST', { batch_size: 'all' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id: string = started.body.migration_id;
  await waitCompletedQueues(sidecars[0].url, id, 1);

  const seenDuring: string[] = [];
  for (const node of [0, 1, 2]) {
    assert.equal(await sidecars[node].kill('SIGTERM'), 0, `sidecar ${node + 1} stopped gracefully:\n${sidecars[node].output().slice(-2000)}`);
    sidecars[node] = await spawn(node);
    const now = await apiJson(`${sidecars[node].url}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
    assert.equal(now.status, 200, `restarted sidecar ${node + 1} serves the running migration: ${JSON.stringify(now.body)}`);
    seenDuring.push(`${node + 1}: ${now.body.migration.status} ${now.body.migration.completed_queues}/${now.body.migration.total_queues}`);
    await sleep(1000);
  }
  t.diagnostic(`after each restart: ${seenDuring.join(', ')}`);
  assert.ok(
    seenDuring.slice(0, 1).every((s) => / in_progress /.test(s)),
    `the owner was restarted in the middle of the run: ${seenDuring}`,
  );

  const detail = await waitTerminal(sidecars[0].url, id, 600_000);
  assert.equal(detail.migration.status, 'completed', JSON.stringify(detail.migration));
  const { record } = await assertIntegrity(p.baseline, id);
  assert.ok(
    record.notes.some((n) => /resumed by/.test(n)),
    `the record says it was resumed: ${record.notes}`,
  );
  for (const s of sidecars) {
    const list = await apiJson(`${s.url}/api/queue-migration/status`, 'GET');
    assert.equal(list.status, 200);
    const ids = (list.body.migrations as Array<{ id: string; status: string }>)
      .filter((m) => m.id === id || m.id === doneId)
      .map((m) => `${m.id === id ? 'run' : 'earlier'}:${m.status}`)
      .sort();
    assert.deepEqual(ids, ['earlier:completed', 'run:completed'], 'both sealed records are listed as they are');
  }
  for (const s of sidecars) await s.kill('SIGTERM');
});
