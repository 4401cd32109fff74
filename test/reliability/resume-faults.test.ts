/**
 * Issue 13: the management API answers HTTP 500 (empty body) to the first shovel and queue
 * deletes of a resumed migration — half of them after carrying the delete out, half without —
 * as RabbitMQ 3.10 does when shovel deletes collide. The resuming sidecar talks to the broker
 * through an HTTP fault proxy (test/support/http-fault-proxy.ts); the migration still completes
 * and every queue is verified by content.
 */
import { testSeal } from '../support/state-secret.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admin, cluster } from '../support/cluster.js';
import { startHttpFaultProxy } from '../support/http-fault-proxy.js';
import { assertIntegrity } from '../support/integrity.js';
import { spawnSidecar } from '../support/sidecar.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { cleanupRecords, diagnose, prepareLargeVhost, startAll, waitCompletedQueues } from './large-vhost.js';
import { reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';

test('500 answers to the first shovel and queue deletes of a resume: the migration still completes', async (t) => {
  const spec = { full: 12, messages: 3000, empty: 4 };
  const p = await prepareLargeVhost(t, spec);
  cleanupRecords(t, p.vhost);
  const first = await spawnSidecar(t, { env: reliabilityEnv(p.vhost, { QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 });
  const id = await startAll(first.url, p.vhost);
  await waitCompletedQueues(first.url, id, 4);
  await first.kill('SIGKILL');
  assert.equal((await new MigrationStore(admin(), testSeal()).loadRecord(id))?.status, 'in_progress');

  const proxy = await startHttpFaultProxy(cluster.managementUrls[0], [
    { method: 'DELETE', path: /^\/api\/parameters\/shovel\//, count: 4 },
    { method: 'DELETE', path: /^\/api\/queues\//, count: 4 },
  ]);
  t.after(() => proxy.close());
  await sleep(3000);
  const second = await spawnSidecar(t, { env: reliabilityEnv(p.vhost, { QMIG_MANAGEMENT_URL: proxy.url, QMIG_LOG_LEVEL: 'info' }), startTimeoutMs: 120_000 });
  const detail = await waitTerminal(second.url, id, 900_000);
  if (detail.migration.status !== 'completed') assert.fail(await diagnose(id, p.vhost, [first.output(), second.output()]));
  assert.equal(proxy.faults.length, 8, `every fault was injected: ${JSON.stringify(proxy.faults)}`);
  assert.ok(proxy.faults.some((f) => f.mode === 'after') && proxy.faults.some((f) => f.mode === 'dropped'));
  const { queues } = await assertIntegrity(p.baseline, id);
  for (const q of queues) assert.equal(q.status, 'completed', `${q.name}: ${q.status} ${q.error}`);
  await second.kill('SIGTERM');
});
