/**
 * Scheduled runs (issue 17, item 2: `not_before` in start) on the real cluster: a run scheduled
 * on one sidecar opens at its time on another after the first was killed, and completes with
 * every digest equal; a cancel before the window leaves the broker untouched and it never opens;
 * the checks of start and the caller's rights are judged again when it opens (a queue planted
 * after scheduling, a caller deleted): it ends failed and touches nothing; bad times are 400 and
 * a tenant without rights is refused (403) like start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATION_LOCK } from '../../src/broker/names.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { ClusterLock } from '../../src/state/cluster-lock.js';
import type { MigrationRecord } from '../../src/state/records.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, spawnSidecar, startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, sleep, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

const ENV = { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' };

async function schedule(url: string, vhost: string, body: Record<string, unknown>, auth = { user: 'guest', password: 'guest' }) {
  const res = await fetch(`${url}/api/queue-migration/start/${encodeURIComponent(vhost)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(auth.user, auth.password) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The `opened at <ISO>` time a scheduled run records when it opens. */
function openedAt(r: MigrationRecord): number {
  const note = r.notes.find((n) => n.startsWith('scheduled for '));
  assert.ok(note, `an open note: ${JSON.stringify(r.notes)}`);
  return Date.parse(note.slice(note.indexOf('opened at ') + 'opened at '.length));
}

async function statusOf(s: TestSidecar, id: string) {
  const res = await s.api(`/api/queue-migration/status/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as { migration: Record<string, unknown> };
}

test('a run scheduled on sidecar A opens on sidecar B (A killed in between) at or after not_before, and completes with every digest equal', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  const names = ['s-1', 's-2', 's-3'];
  for (const [i, name] of names.entries()) {
    await classicQueue(vhost, name, {}, i % 3);
    await publish(vhost, { queue: name }, 20 + i);
  }
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const name of names) before.set(name, await fingerprint(vhost, name));

  const a = await spawnSidecar(t, { node: 0, env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const notBefore = new Date(Date.now() + 20_000).toISOString();
  const started = await schedule(a.url, vhost, { not_before: notBefore });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assertSchema('start-response', started.body);
  const id = String(started.body.migration_id);
  ids.push(id);
  const stored = await ctx.store.loadRecord(id);
  assert.equal(stored?.status, 'scheduled');
  assert.equal(stored?.options.not_before, notBefore);

  // Listed as scheduled; the overall status does not call it a migration in progress.
  const list = await (await fetch(`${a.url}/api/queue-migration/status`, { headers: { authorization: basicAuth('guest', 'guest') } })).json();
  assertSchema('status-list-response', list);
  const row = list.migrations.find((m: { id: string }) => m.id === id);
  assert.equal(row.status, 'scheduled');
  assert.equal(row.not_before, notBefore);
  assert.equal(
    list.migrations.filter((m: { status: string }) => ['pending', 'in_progress', 'paused'].includes(m.status)).length > 0,
    list.status === 'in_progress',
  );

  await a.kill('SIGKILL');
  const b = await spawnSidecar(t, { node: 1, env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const done = await waitForStatus(ctx, id, ['completed', 'failed', 'interrupted', 'rollback_pending'], 180_000);
  await b.kill('SIGTERM');
  assert.equal(done.record.status, 'completed', `${done.record.error} ${b.output().slice(-2000)}`);
  assert.ok(openedAt(done.record) >= Date.parse(notBefore), `opened ${done.record.notes} not before ${notBefore}`);
  assert.ok(Date.parse(done.record.started_at.replace(' ', 'T') + 'Z') >= Math.floor(Date.parse(notBefore) / 1000) * 1000);
  assert.equal(done.record.id, id, 'the same migration id');
  assert.equal(done.record.engine.started_by, 'guest');
  assert.equal(done.record.total_queues, names.length, 'the queues were selected at the open');
  for (const name of names) {
    assert.equal((await admin().queue(vhost, name))?.type, 'quorum', name);
    assert.deepEqual(await fingerprint(vhost, name), before.get(name), name);
  }
});

test('a scheduled run cancelled (interrupt) before its window ends interrupted at once, never opens, and the queues are untouched', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'kept');
  await publish(vhost, { queue: 'kept' }, 15);
  await waitSynchronised(vhost);
  const before = await fingerprint(vhost, 'kept');
  const s = await startTestSidecar(t, { env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const notBefore = new Date(Date.now() + 5000).toISOString();
  const started = await schedule(s.url, vhost, { not_before: notBefore });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = String(started.body.migration_id);
  ids.push(id);
  assertSchema('status-detail-response', await statusOf(s, id));
  // It holds no lock: the migration lock of its state vhost is free (a start would not get 409).
  const lock = await ClusterLock.acquire(ctx.amqp, vhost, MIGRATION_LOCK);
  await lock.release();
  // `check` is not disturbed by a scheduled record (its leftovers and state checks pass).
  const check = await s.api(`/api/queue-migration/check/${encodeURIComponent(vhost)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(check.status, 200);
  const checks = ((await check.json()) as { system_checks: { checks: Array<{ check_type: string; status: string; message: string }> } }).system_checks.checks;
  for (const type of ['leftovers', 'state_integrity']) {
    const c = checks.find((x) => x.check_type === type);
    assert.ok(c, `${type} in ${JSON.stringify(checks.map((x) => x.check_type))}`);
    assert.notEqual(c.status, 'failed', c.message);
  }

  const res = await s.api(`/api/queue-migration/interrupt/${id}`, { method: 'POST' });
  assert.equal(res.status, 200, await res.clone().text());
  assertSchema('interrupt-response', await res.json());
  const ended = (await ctx.store.loadRecord(id))!;
  assert.equal(ended.status, 'interrupted');
  assert.ok(
    ended.notes.some((n) => n.startsWith('cancelled before its window opened')),
    JSON.stringify(ended.notes),
  );
  // Its time passes: it does not open (the timer armed when it was scheduled finds it ended).
  while (Date.now() < Date.parse(notBefore) + 3000) await sleep(250);
  const after = (await ctx.store.loadRecord(id))!;
  assert.equal(after.status, 'interrupted');
  assert.equal(after.total_queues, 0);
  const detail = await statusOf(s, id);
  assertSchema('status-detail-response', detail);
  assert.equal(detail.migration.status, 'interrupted');
  assert.equal((await admin().queue(vhost, 'kept'))?.type, 'classic');
  assert.deepEqual(await fingerprint(vhost, 'kept'), before);
  // A second interrupt: it has ended (409).
  assert.equal((await s.api(`/api/queue-migration/interrupt/${id}`, { method: 'POST' })).status, 409);
});

test('the checks of start run again when the window opens: a queue planted after scheduling that they refuse ends the run failed with their message', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'fine');
  await waitSynchronised(vhost);
  const s = await startTestSidecar(t, { env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const started = await schedule(s.url, vhost, { not_before: new Date(Date.now() + 4000).toISOString() });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = String(started.body.migration_id);
  ids.push(id);
  // Planted after scheduling: a message TTL, refused without allow_message_ttl.
  await classicQueue(vhost, 'ttl', { 'x-message-ttl': 600_000 });
  await waitSynchronised(vhost);
  const done = await waitForStatus(ctx, id, ['failed', 'completed', 'interrupted', 'in_progress']);
  assert.equal(done.record.status, 'failed');
  assert.match(done.record.error ?? '', /Found 1 queue\(s\) with issues/);
  assert.ok(
    done.record.notes.some((n) => n.startsWith('not opened: the checks at its window refused it')),
    JSON.stringify(done.record.notes),
  );
  assertSchema('status-detail-response', await statusOf(s, id));
  for (const name of ['fine', 'ttl']) assert.equal((await admin().queue(vhost, name))?.type, 'classic', name);
});

test("the caller's rights are read again when the window opens: a policymaker deleted after scheduling — the run does not open (failed, says why)", async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'q');
  await waitSynchronised(vhost);
  const tenant = await testUser(t, ['policymaker'], [vhost]);
  const s = await startTestSidecar(t, { env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const started = await schedule(s.url, vhost, { not_before: new Date(Date.now() + 4000).toISOString() }, tenant);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = String(started.body.migration_id);
  ids.push(id);
  assert.equal((await ctx.store.loadRecord(id))?.engine.started_by, tenant.user);
  await admin().ok('DELETE', `/users/${encodeURIComponent(tenant.user)}`);
  const done = await waitForStatus(ctx, id, ['failed', 'completed', 'interrupted', 'in_progress']);
  assert.equal(done.record.status, 'failed');
  assert.match(done.record.error ?? '', new RegExp(`user '${tenant.user}' who scheduled this run no longer exists`));
  assert.equal((await admin().queue(vhost, 'q'))?.type, 'classic');
});

test('the migration lock held by another run at not_before: it stays scheduled with a waiting reason, and ends interrupted when its deadline passes first', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'busy');
  await classicQueue(vhost, 'later');
  await waitSynchronised(vhost);
  // Another run (this vhost's lock) holds at its first queue's last step until released.
  let release = false;
  const blocker = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ step }) => {
        if (step !== 'finish') return;
        while (!release) await sleep(100);
      },
    },
  });
  t.after(async () => {
    release = true;
    await blocker.shutdown();
  });
  const { migration_id: running } = await blocker.start(vhost, startOptions({ queue_names: ['busy'] }), caller);
  ids.push(running);
  const s = await startTestSidecar(t, { env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const deadline = new Date(Date.now() + 14_000).toISOString();
  const started = await schedule(s.url, vhost, { not_before: new Date(Date.now() + 2000).toISOString(), deadline, queue_names: ['later'] });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = String(started.body.migration_id);
  ids.push(id);
  let waiting: MigrationRecord | null = null;
  while (!waiting?.waiting_reason) {
    waiting = await ctx.store.loadRecord(id);
    assert.equal(waiting?.status, 'scheduled');
    await sleep(200);
  }
  assert.match(waiting.waiting_reason, new RegExp(`migration ${running} holds the migration lock`));
  const shown = await statusOf(s, id);
  assertSchema('status-detail-response', shown);
  assert.equal(shown.migration.waiting_reason, waiting.waiting_reason);
  const done = await waitForStatus(ctx, id, ['interrupted', 'failed', 'completed', 'in_progress'], 60_000);
  assert.equal(done.record.status, 'interrupted');
  assert.ok(Date.now() >= Date.parse(deadline));
  assert.ok(
    done.record.notes.some((n) => n.startsWith(`its deadline ${deadline} passed before its window could open`)),
    JSON.stringify(done.record.notes),
  );
  assert.equal((await admin().queue(vhost, 'later'))?.type, 'classic');
  release = true;
  await blocker.whenFinished(running);
  assert.equal((await waitForStatus(ctx, running, ['completed', 'failed', 'interrupted'])).record.status, 'completed');
});

test('POST start with a bad not_before (not a date-time, past, beyond 30 days, not before the deadline): 400; a tenant without rights: 403; nothing stored', async (t) => {
  const vhost = await testVhost(t);
  const other = await testVhost(t);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'only');
  const s = await startTestSidecar(t, { env: { ...ENV, QMIG_STATE_VHOST: vhost } });
  const soon = new Date(Date.now() + 60_000).toISOString();
  for (const [body, reason] of [
    [{ not_before: 'tomorrow' }, /not_before must be an ISO 8601 date-time/],
    [{ not_before: '2020-01-01T00:00:00Z' }, /not_before 2020-01-01T00:00:00\.000Z is not in the future/],
    [{ not_before: new Date(Date.now() + 31 * 86_400_000).toISOString() }, /is more than 30 days ahead/],
    [{ not_before: soon, deadline: soon }, /is not before the deadline/],
    [{ not_before: soon, deadline: new Date(Date.now() + 30_000).toISOString() }, /is not before the deadline/],
  ] as const) {
    const res = await schedule(s.url, vhost, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assertSchema('error-response', res.body);
    assert.match(String(res.body.reason), reason);
  }
  const tenant = await testUser(t, ['policymaker'], [other]);
  const refused = await schedule(s.url, vhost, { not_before: soon }, tenant);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assertSchema('error-response', refused.body);
  const list = await (await s.api('/api/queue-migration/status')).json();
  assert.equal(list.migrations.filter((m: { vhost: string }) => m.vhost === vhost).length, 0, 'nothing was stored');
});
