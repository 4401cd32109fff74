/**
 * The window's end (issue 17, item 2: `deadline` in start) on the real cluster: when the deadline
 * passes during a run, the queue in flight finishes, no other queue starts, the migration ends
 * `interrupted` and its notes list the queues left (still mirrored classic, messages intact);
 * a deadline that is not a date-time or not in the future is refused (400) before anything starts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationService } from '../../src/migration/migration-service.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

test('a deadline passing mid-run: the queue in flight finishes, the rest are skipped and listed, the migration ends interrupted', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost, { QMIG_MIGRATION_CONCURRENCY: '1' });
  await mirrorPolicy(vhost, '.*');
  const names = ['q-1', 'q-2', 'q-3', 'q-4'];
  for (const [i, name] of names.entries()) {
    await classicQueue(vhost, name, {}, i % 3);
    await publish(vhost, { queue: name }, 30 + i);
  }
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const name of names) before.set(name, await fingerprint(vhost, name));

  const deadline = new Date(Date.now() + 4000);
  // The first queue to reach its last step holds there until the deadline has passed.
  let held: string | null = null;
  const service = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ queue, step }) => {
        if (step !== 'finish' || held) return;
        held = queue;
        while (Date.now() < deadline.getTime() + 300) await new Promise((r) => setTimeout(r, 100));
      },
    },
  });
  const { migration_id: id } = await service.start(vhost, startOptions({ deadline: deadline.toISOString() }), caller);
  ids.push(id);
  await service.whenFinished(id);
  const done = await waitForStatus(ctx, id, ['interrupted', 'completed', 'failed', 'rollback_pending']);
  assert.equal(done.record.status, 'interrupted', `${done.record.error}`);
  assert.equal(done.record.options.deadline, deadline.toISOString());
  const completed = done.queues.filter((q) => q.status === 'completed').map((q) => q.name);
  const skipped = done.queues.filter((q) => q.status === 'skipped');
  assert.deepEqual(completed, [held], 'only the queue in flight at the deadline finished');
  assert.equal(skipped.length, 3);
  assert.ok(skipped.every((q) => q.error === 'interrupted'));
  const note = done.record.notes.find((n) => n.startsWith('deadline '));
  assert.ok(note, JSON.stringify(done.record.notes));
  assert.match(note, new RegExp(`^deadline ${deadline.toISOString().replace(/\./g, '\\.')} reached: 3 queue\\(s\\) not migrated`));
  for (const q of skipped) {
    assert.ok(note.includes(q.name), `${q.name} listed as left`);
    assert.equal((await admin().queue(vhost, q.name))?.type, 'classic');
    assert.deepEqual(await fingerprint(vhost, q.name), before.get(q.name));
  }
  assert.equal((await admin().queue(vhost, held!))?.type, 'quorum');
  assert.deepEqual(await fingerprint(vhost, held!), before.get(held!));
});

test('POST start with a deadline that is not a date-time, or not in the future: 400, nothing started', async (t) => {
  const vhost = await testVhost(t);
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: vhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'only');
  for (const [deadline, reason] of [
    ['tonight', /deadline must be an ISO 8601 date-time/],
    ['2026-13-40T25:00:00Z', /deadline must be an ISO 8601 date-time/],
    ['2020-01-01T00:00:00Z', /deadline 2020-01-01T00:00:00\.000Z is not in the future/],
  ] as const) {
    const res = await s.api(`/api/queue-migration/start/${encodeURIComponent(vhost)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deadline }),
    });
    const body = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assertSchema('error-response', body);
    assert.match(body.reason, reason);
  }
  const list = await (await s.api('/api/queue-migration/status')).json();
  assert.equal(list.migrations.filter((m: { vhost: string }) => m.vhost === vhost).length, 0, 'nothing was started');
  assert.equal((await admin().queue(vhost, 'only'))?.type, 'classic');
});
