/**
 * Many vhosts in one window (issue 17, item 4) on the real cluster: one run over two vhosts
 * (POST start-many), one record and one status, each vhost's clients fenced only while its own
 * queues move; a queue name present in both vhosts is migrated in each; who may start, see and
 * interrupt such a run is decided on every vhost it covers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Permission } from '../../src/broker/management-client.js';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { presentMigrationDetail, presentQueue } from '../../src/http/presenters.js';
import { admin, cluster } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { spawnEngine } from './crash-engine.js';
import { assertExit, runCli } from './cli-support.js';
import { caller, classicQueue, cleanupRecords, engineSession, shovelsOf, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

/** Mirrored queues with messages in `vhost`; their content digests by name. */
async function plant(vhost: string, names: string[]): Promise<Map<string, string[]>> {
  await mirrorPolicy(vhost, '.*');
  for (const [i, name] of names.entries()) {
    await classicQueue(vhost, name, {}, i % 3);
    await publish(vhost, { queue: name }, 20 + i);
  }
  await waitSynchronised(vhost);
  const digests = new Map<string, string[]>();
  for (const name of names) digests.set(name, await fingerprint(vhost, name));
  return digests;
}

/** Every planted queue of `vhost` is quorum now, with the same content as before. */
async function assertMigrated(vhost: string, digests: Map<string, string[]>): Promise<void> {
  for (const [name, digest] of digests) {
    assert.equal((await admin().queue(vhost, name))?.type, 'quorum', `${vhost}/${name}`);
    assert.deepEqual(await fingerprint(vhost, name), digest, `${vhost}/${name} content`);
  }
}

test('two vhosts in one run: each is fenced only while its own queues move, then both are quorum with their messages', async (t) => {
  const a = await testVhost(t);
  const b = await testVhost(t);
  const { ctx, ids } = engineSession(t, a, { QMIG_MIGRATION_CONCURRENCY: '2' });
  const mgmt = admin();
  const app = await testUser(t, ['management'], [a, b]);
  const before: Record<string, Permission | null> = { [a]: await mgmt.permission(a, app.user), [b]: await mgmt.permission(b, app.user) };
  const digestsA = await plant(a, ['a-1', 'a-2', 'a-3', 'same']);
  const digestsB = await plant(b, ['b-1', 'b-2', 'same']);

  // At each queue's first step: the app user's permission on both vhosts, as the broker shows it.
  const seen: Array<{ queue: string; onA: Permission | null; onB: Permission | null }> = [];
  const service = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ queue, step }) => {
        if (step !== 'save' || queue === 'same') return;
        seen.push({ queue, onA: await mgmt.permission(a, app.user), onB: await mgmt.permission(b, app.user) });
      },
    },
  });
  const { migration_id: id } = await service.startMany([a, b], startOptions(), caller);
  ids.push(id);
  await service.whenFinished(id);
  const done = await waitForStatus(ctx, id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(done.record.status, 'completed', `${done.record.error}`);
  assert.equal(done.record.vhost, a);
  assert.deepEqual(done.record.vhosts, [a, b]);
  assert.equal(done.record.total_queues, 7);
  assert.equal(done.record.completed_queues, 7);

  // Every queue of a before any queue of b; during a's part only a is fenced, during b's only b.
  assert.deepEqual(
    seen.map((s) => s.queue[0]),
    ['a', 'a', 'a', 'b', 'b'],
    JSON.stringify(seen.map((s) => s.queue)),
  );
  for (const s of seen) {
    const [fenced, open, openBefore] = s.queue.startsWith('a-') ? [s.onA, s.onB, before[b]] : [s.onB, s.onA, before[a]];
    assert.equal(fenced, null, `${s.queue}: its own vhost is fenced`);
    assert.deepEqual(open, openBefore, `${s.queue}: the other vhost is open`);
  }

  for (const [vhost, digests] of [
    [a, digestsA],
    [b, digestsB],
  ] as const) {
    await assertMigrated(vhost, digests);
    assert.deepEqual(await mgmt.permission(vhost, app.user), before[vhost], `permission on ${vhost} restored exactly`);
  }
  assert.deepEqual(
    done.queues.filter((q) => q.name === 'same').map((q) => q.vhost),
    [a, b],
    'the queue named alike in both vhosts is one entry per vhost',
  );

  // Client downtime as recorded: one closed fence period per vhost, a's over before b's began,
  // each queue out of reach within its vhost's period; status shows both.
  const periods = done.record.fence_periods ?? [];
  assert.deepEqual(
    periods.map((p) => p.vhost),
    [a, b],
    JSON.stringify(periods),
  );
  assert.ok(periods.every((p) => p.to && Date.parse(p.to) >= Date.parse(p.from)));
  assert.ok(Date.parse(periods[0].to!) <= Date.parse(periods[1].from), 'a fenced, then back, before b is fenced');
  for (const q of done.queues) {
    const u = q.detail.unavailable;
    const p = periods.find((x) => x.vhost === q.vhost)!;
    assert.ok(u?.from && u.to, `${q.vhost}/${q.name}: an unavailable interval`);
    assert.ok(Date.parse(p.from) <= Date.parse(u.from) && Date.parse(u.to) <= Date.parse(p.to!), `${q.vhost}/${q.name} within its vhost's fence`);
  }
  const view = presentMigrationDetail(done.record);
  assertSchema('migration-detail', view);
  assert.deepEqual(Object.keys(view.fenced_seconds ?? {}).sort(), [a, b].sort());
  for (const q of done.queues) {
    const qv = presentQueue(q);
    assertSchema('queue-status', qv);
    assert.ok((qv.unavailable_seconds ?? -1) >= 0 && qv.unavailable_seconds! <= view.fenced_seconds![q.vhost], `${q.name}: ${qv.unavailable_seconds}`);
  }
});

test('a run over two vhosts killed while the second one moves: the first stays open, housekeeping resumes the second, nothing lost', async (t) => {
  const a = await testVhost(t);
  const b = await testVhost(t);
  const { ctx, ids } = engineSession(t, a);
  const mgmt = admin();
  const app = await testUser(t, ['management'], [a, b]);
  const before: Record<string, Permission | null> = { [a]: await mgmt.permission(a, app.user), [b]: await mgmt.permission(b, app.user) };
  const digestsA = await plant(a, ['a-1', 'a-2']);
  const digestsB = await plant(b, ['b-1', 'b-2']);
  await publish(b, { queue: 'b-1' }, 2000);
  digestsB.set('b-1', await fingerprint(b, 'b-1'));

  const child = spawnEngine(t, a, [{ queue: 'b-1', at: 'shovel:to-temporary' }], undefined, [a, b]);
  await child.waitFor((e) => e.some((x) => x.hang));
  const id = child.events.find((e) => e.started)!.started!;
  ids.push(id);
  assert.deepEqual(await mgmt.permission(a, app.user), before[a], 'the first vhost is open again while the second moves');
  assert.equal(await mgmt.permission(b, app.user), null, 'the second vhost is fenced');
  await child.kill();

  const service = new MigrationService(ctx);
  const housekeeper = new Housekeeper(ctx, service);
  t.after(() => housekeeper.stop());
  const report = await housekeeper.runOnce();
  assert.deepEqual(report.errors, []);
  assert.deepEqual(service.running(), [id]);
  await service.whenFinished(id);
  const { record, queues } = await waitForStatus(ctx, id, ['completed', 'rollback_pending', 'failed', 'interrupted']);
  assert.equal(record.status, 'completed', `${record.error} ${JSON.stringify(queues)}`);
  assert.deepEqual(record.vhosts, [a, b]);
  for (const [vhost, digests] of [
    [a, digestsA],
    [b, digestsB],
  ] as const) {
    await assertMigrated(vhost, digests);
    assert.deepEqual(await mgmt.permission(vhost, app.user), before[vhost], `permission on ${vhost} restored`);
    assert.deepEqual(await shovelsOf(vhost), []);
    assert.deepEqual(
      (await mgmt.queues(vhost)).filter((q) => q.name.startsWith('qmig.tmp.')).map((q) => q.name),
      [],
    );
  }
});

test('POST start-many: bad bodies 400, a vhost the caller may not change 403, "all" keeps to what the caller may change; the run is seen only by callers of both vhosts', async (t) => {
  const a = await testVhost(t);
  const b = await testVhost(t);
  const empty = await testVhost(t);
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: a, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const digestsA = await plant(a, ['a-1', 'a-2']);
  const digestsB = await plant(b, ['b-1']);
  const onlyA = await testUser(t, ['policymaker'], [a]);
  const both = await testUser(t, ['policymaker'], [a, b, empty]);
  const watcherA = await testUser(t, ['monitoring'], [a]);
  const watcherBoth = await testUser(t, ['monitoring'], [a, b]);

  const post = async (body: unknown, auth?: { user: string; password: string }) => {
    const res = await s.api('/api/queue-migration/start-many', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(auth ? { auth } : {}),
    });
    return { status: res.status, body: await res.json() };
  };

  for (const [body, reason] of [
    [{}, /vhosts is required/],
    [{ vhosts: [] }, /vhosts must be "all" or an array/],
    [{ vhosts: [a, a] }, /vhosts must be "all" or an array/],
    [{ vhosts: 'every' }, /vhosts must be "all" or an array/],
    [{ vhosts: [a, b], queue_names: ['a-1'] }, /queue_names is not accepted by start-many/],
    [{ vhosts: [a, b], tolerance: 101 }, /tolerance must be a number between 0 and 100/],
    [{ vhosts: [a, b], deadline: '2020-01-01T00:00:00Z' }, /deadline 2020-01-01T00:00:00\.000Z is not in the future/],
    [{ vhosts: [a, empty] }, new RegExp(`vhost '${empty}': `)],
  ] as const) {
    const r = await post(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
    assertSchema('error-response', r.body);
    assert.match(r.body.reason, reason);
  }
  const unknown = await post({ vhosts: [a, `${a}-missing`] });
  assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  const refused = await post({ vhosts: [a, b] }, onlyA);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(refused.body.reason, new RegExp(`on vhost '${b}'`));

  // "all" as a policymaker of a, b and an empty vhost: a and b (the empty one has no mirrored queue), by name.
  const started = await post({ vhosts: 'all' }, both);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  assertSchema('start-response', started.body);
  const id: string = started.body.migration_id;
  let detail: { status: string; migration: Record<string, unknown>; queues: Array<{ resource: { vhost: string; name: string } }> } | null = null;
  for (let i = 0; i < 240; i++) {
    const res = await s.api(`/api/queue-migration/status/${id}`);
    detail = await res.json();
    if (['completed', 'failed', 'rollback_pending', 'interrupted'].includes(String(detail!.migration.status))) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assertSchema('status-detail-response', detail);
  assert.equal(detail!.migration.status, 'completed', JSON.stringify(detail!.migration));
  assert.deepEqual(detail!.migration.vhosts, [a, b].sort());
  assert.deepEqual(detail!.queues.map((q) => `${q.resource.vhost}/${q.resource.name}`).sort(), [`${a}/a-1`, `${a}/a-2`, `${b}/b-1`].sort());
  await assertMigrated(a, digestsA);
  await assertMigrated(b, digestsB);

  // A reader of a alone does not see a run that covers b too; a reader of both does.
  const hidden = await s.api(`/api/queue-migration/status/${id}`, { auth: watcherA });
  assert.equal(hidden.status, 404);
  const list = await (await s.api('/api/queue-migration/status', { auth: watcherA })).json();
  assert.ok(!list.migrations.some((m: { id: string }) => m.id === id), 'not listed for a reader of one of its vhosts');
  const shown = await s.api(`/api/queue-migration/status/${id}`, { auth: watcherBoth });
  assert.equal(shown.status, 200);
});

test('qmig start --vhost A --vhost B --watch: one run over both, followed to completed; --all-vhosts with --vhost is a usage error', async (t) => {
  const a = await testVhost(t);
  const b = await testVhost(t);
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: a, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const ids: string[] = [];
  cleanupRecords(
    t,
    () => s.ctx,
    () => ids,
  );
  const digests = await plant(a, ['a-1']);
  await plant(b, ['b-1']);
  const env = { QMIG_URL: s.url, QMIG_CLI_USER: cluster.user, QMIG_CLI_PASSWORD: cluster.password };

  const usage = await runCli(['start', '--all-vhosts', '--vhost', a], env);
  assertExit(usage, 2, 'start --all-vhosts --vhost');
  assert.match(usage.stderr, /--all-vhosts and --vhost exclude each other/);

  const run = await runCli(['start', '--vhost', a, '--vhost', b, '--watch', '--json', '--interval', '0.3'], env);
  assertExit(run, 0, 'start --vhost A --vhost B --watch --json');
  const [started, ...updates] = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  assertSchema('start-response', started);
  ids.push(started.migration_id);
  const last = updates.at(-1);
  assertSchema('status-detail-response', last);
  assert.equal(last.migration.status, 'completed');
  assert.deepEqual(last.migration.vhosts, [a, b]);
  assert.equal((await admin().queue(b, 'b-1'))?.type, 'quorum');
  assert.deepEqual(await fingerprint(a, 'a-1'), digests.get('a-1'));
});
