/**
 * Undo without a snapshot (issue 16): a migration's quorum queues go back to mirrored classic in
 * place — the same messages (content digest equal to the one taken before the migration), the
 * classic arguments, the master's node, the bindings, and the mirroring policy in force again —
 * for a completed, an interrupted and a failed migration, for single queues, through the HTTP
 * route with its authorization, and resumed after its sidecar is killed mid-way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import type { Context } from '../../src/context.js';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import type { MigrationRecord, QueueRecord } from '../../src/state/records.js';
import { mirroredNow, waitForQueues } from '../support/checks-agreement.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish, type TestMessage } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { assertExit, runCli } from './cli-support.js';
import { spawnEngine } from './crash-engine.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, shovelsOf, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

interface QueueSpec {
  name: string;
  args?: Record<string, unknown>;
  messages?: number | TestMessage[];
}

function messages(n: number, tag: string, extra: (i: number) => Record<string, unknown> = () => ({})): TestMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: i % 7 === 0 ? Buffer.from([0, 255, i % 256, 10, 13]) : `${tag}-${i}-${'x'.repeat(i % 40)}`,
    properties: {
      persistent: i % 3 !== 0,
      contentType: 'application/json',
      correlationId: `corr-${i}`,
      messageId: `${tag}-${i}`,
      timestamp: 1700000000 + i,
      headers: { n: i, tag, nested: { list: [1, 'two'] }, flag: i % 2 === 0 },
      ...extra(i),
    },
  }));
}

/** What a queue is before the migration: what the rollback must give back. */
interface Before {
  args: Record<string, unknown>;
  node: string;
  bindings: string[];
  fp: string[];
}

const bindingKeys = async (vhost: string, queue: string) =>
  (await admin().queueBindings(vhost, queue))
    .filter((b) => b.source !== '')
    .map((b) => `${b.source}|${b.routing_key}|${JSON.stringify(b.arguments ?? {})}`)
    .sort();

async function snapshotOf(vhost: string, names: string[]): Promise<Map<string, Before>> {
  const out = new Map<string, Before>();
  for (const name of names) {
    const q = (await admin().queue(vhost, name))!;
    out.set(name, { args: q.arguments ?? {}, node: q.node!, bindings: await bindingKeys(vhost, name), fp: await fingerprint(vhost, name) });
  }
  return out;
}

/** Every queue of `before` is a classic queue again, mirrored, with its arguments, node, bindings and messages. */
async function assertRestored(vhost: string, before: Map<string, Before>): Promise<void> {
  // A new queue's policy shows in the management API with its first statistics (up to a few
  // seconds): wait for every queue to show its mirroring policy (this fails after 30 s).
  await waitForQueues(vhost, [...before.keys()], mirroredNow);
  await waitSynchronised(vhost);
  for (const [name, b] of before) {
    const q = (await admin().queue(vhost, name))!;
    assert.equal(q.type, 'classic', `${name} is classic again`);
    assert.deepEqual(q.arguments ?? {}, b.args, `${name}: arguments`);
    // A queue-master-locator argument places the master itself (as on any declare).
    if (!('x-queue-master-locator' in b.args)) assert.equal(q.node, b.node, `${name}: master on its old node`);
    assert.deepEqual(await bindingKeys(vhost, name), b.bindings, `${name}: bindings`);
    assert.deepEqual(await fingerprint(vhost, name), b.fp, `${name}: messages (content digest)`);
  }
  assert.deepEqual(await shovelsOf(vhost), [], 'no shovel left');
  const temporaries = (await admin().queues(vhost, ['name'])).map((q) => q.name).filter((n) => n.startsWith('qmig.'));
  assert.deepEqual(temporaries, [], 'no temporary queue left');
}

async function migrate(svc: MigrationService, ctx: Context, vhost: string, ids: string[], statuses: MigrationRecord['status'][] = ['completed']) {
  const { migration_id } = await svc.start(vhost, startOptions(), caller);
  ids.push(migration_id);
  await svc.whenFinished(migration_id);
  return { id: migration_id, ...(await waitForStatus(ctx, migration_id, statuses)) };
}

async function rollBack(svc: MigrationService, ctx: Context, record: MigrationRecord, ids: string[], queueNames: string[] | null = null) {
  const { migration_id } = await svc.startRollback(record, { queue_names: queueNames, tolerance: null, reason: 'test' }, caller);
  ids.push(migration_id);
  await svc.whenFinished(migration_id);
  const done = await waitForStatus(ctx, migration_id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(
    done.record.status,
    'completed',
    `rollback ${migration_id}: ${done.record.error} ${JSON.stringify(done.queues.map((q) => [q.name, q.status, q.error]))}`,
  );
  return { id: migration_id, ...done };
}

test('a migrated vhost of 20 mixed queues rolls back to mirrored classic: same messages, arguments, node, bindings; both records linked', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost, { QMIG_MIGRATION_CONCURRENCY: '4' });
  const mgmt = admin();
  await mirrorPolicy(vhost, '.*');
  for (const [name, type] of [
    ['docs', 'headers'],
    ['events', 'topic'],
    ['dlx-ex', 'direct'],
  ] as const) {
    await mgmt.ok('PUT', `/exchanges/${enc(vhost)}/${enc(name)}`, { type, durable: true });
  }
  const specs: QueueSpec[] = [
    { name: 'empty' },
    { name: 'big', messages: 3_000 },
    { name: 'prio', args: { 'x-max-priority': 10 }, messages: messages(60, 'prio', (i) => ({ priority: i % 11 })) },
    { name: 'lazy', args: { 'x-queue-mode': 'lazy' }, messages: messages(150, 'lazy') },
    { name: 'dlx', args: { 'x-dead-letter-exchange': 'dlx-ex', 'x-dead-letter-routing-key': 'dead' }, messages: messages(80, 'dlx') },
    { name: 'headers-bound', messages: messages(40, 'hdr') },
    { name: 'topic-bound', messages: messages(30, 'topic') },
    { name: 'classic-only', args: { 'x-queue-version': 2, 'x-queue-master-locator': 'min-masters' }, messages: messages(20, 'co') },
    { name: 'a/b&c ü', messages: messages(25, 'enc') },
    ...Array.from({ length: 11 }, (_, i): QueueSpec => ({ name: `plain-${i}`, messages: i % 4 === 0 ? undefined : messages(i * 9, `plain${i}`) })),
  ];
  assert.equal(specs.length, 20);
  for (let i = 0; i < specs.length; i++) await classicQueue(vhost, specs[i].name, specs[i].args ?? {}, i % 3);
  await mgmt.bindQueue(vhost, 'docs', 'headers-bound', '', { 'x-match': 'all', type: 'report', format: 'pdf' });
  await mgmt.bindQueue(vhost, 'docs', 'headers-bound', 'k', { 'x-match': 'any', urgent: true });
  await mgmt.bindQueue(vhost, 'events', 'topic-bound', 'orders.*.created', {});
  await mgmt.bindQueue(vhost, 'events', 'a/b&c ü', '#', {});
  await mgmt.bindQueue(vhost, 'dlx-ex', 'dlx', 'dead', {});
  for (const s of specs) if (s.messages) await publish(vhost, { queue: s.name }, s.messages);
  await waitSynchronised(vhost);
  const before = await snapshotOf(
    vhost,
    specs.map((s) => s.name),
  );

  const svc = new MigrationService(ctx);
  const forward = await migrate(svc, ctx, vhost, ids);
  assert.equal(forward.record.completed_queues, 20);
  for (const s of specs) assert.equal((await mgmt.queue(vhost, s.name))?.type, 'quorum', `${s.name} migrated`);

  const back = await rollBack(svc, ctx, forward.record, ids);
  assert.equal(back.record.kind, 'rollback');
  assert.equal(back.record.rollback_of, forward.id);
  assert.equal(back.record.completed_queues, 20);
  assert.ok(
    back.queues.every((q) => q.detail.mirroring_policy?.mirrored === true && q.detail.mirroring_policy.policy === 'ha'),
    'the rollback says each queue is mirrored by its old policy',
  );
  assert.ok(
    back.record.notes.some((n) => n.includes('mirrored again')),
    back.record.notes.join('; '),
  );
  assert.ok(back.queues.every((q) => q.phase === 'done'));
  await assertRestored(vhost, before);

  const undone = await waitForStatus(ctx, forward.id, ['rollback_completed']);
  assert.deepEqual(undone.record.rollbacks, [back.id]);
  assert.ok(undone.queues.every((q) => q.status === 'rollback_completed' && q.detail.rolled_back_by === back.id));
  // Nothing left to roll back: a second rollback is refused (409) and changes nothing.
  await assert.rejects(svc.startRollback(undone.record, { queue_names: null, tolerance: null, reason: null }, caller), { status: 409 });
});

test('an interrupted and then a failed migration roll back: changed queues only, half-done queues included, single queues on request', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost, { QMIG_MIGRATION_CONCURRENCY: '1' });
  await mirrorPolicy(vhost, '.*');
  const names = Array.from({ length: 6 }, (_, i) => `q${i}`);
  for (let i = 0; i < names.length; i++) {
    await classicQueue(vhost, names[i], i === 2 ? { 'x-max-priority': 4 } : {}, i % 3);
    await publish(
      vhost,
      { queue: names[i] },
      messages(20 + i * 10, names[i], (k) => ({ priority: k % 5 })),
    );
  }
  await waitSynchronised(vhost);
  const before = await snapshotOf(vhost, names);

  // Interrupted when the third queue is about to start (two are migrated).
  const saved: string[] = [];
  let svc: MigrationService = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ migrationId, queue, step }) => {
        if (step !== 'save') return;
        saved.push(queue);
        if (saved.length === 3) await svc.interrupt(migrationId, caller);
      },
    },
  });
  const interrupted = await migrate(svc, ctx, vhost, ids, ['interrupted']);
  const migrated = interrupted.queues.filter((q) => q.status === 'completed').map((q) => q.name);
  assert.ok(migrated.length >= 2 && migrated.length < names.length, JSON.stringify(migrated));
  const untouched = names.filter((n) => !migrated.includes(n));
  // A name the migration did not change is refused (400) before anything happens.
  await assert.rejects(svc.startRollback(interrupted.record, { queue_names: [untouched.at(-1)!], tolerance: null, reason: null }, caller), { status: 400 });
  // One queue on its own first, then the rest.
  const one = await rollBack(svc, ctx, interrupted.record, ids, [migrated[0]]);
  assert.deepEqual(
    one.queues.map((q) => q.name),
    [migrated[0]],
  );
  assert.equal((await waitForStatus(ctx, interrupted.id, ['interrupted'])).queues.find((q) => q.name === migrated[0])?.status, 'rollback_completed');
  const rest = await rollBack(svc, ctx, (await ctx.store.loadRecord(interrupted.id))!, ids);
  assert.deepEqual(rest.queues.map((q) => q.name).sort(), migrated.slice(1).sort());
  assert.equal((await waitForStatus(ctx, interrupted.id, ['rollback_completed'])).record.rollbacks?.length, 2);
  await assertRestored(vhost, before);

  // Failed: q3 stops after its classic queue is gone and before the quorum queue exists — its
  // messages wait in the temporary queue (half done). The rollback finishes it backwards.
  svc = new MigrationService(ctx, {
    hooks: {
      beforeStep: ({ queue, step }) => {
        if (queue === 'q3' && step === 'declare_quorum') throw new Error('injected failure before the quorum queue is declared');
      },
    },
  });
  const failed = await migrate(svc, ctx, vhost, ids, ['rollback_pending']);
  const q3: QueueRecord | undefined = failed.queues.find((q) => q.name === 'q3');
  assert.equal(q3?.status, 'failed');
  assert.equal(q3?.location, 'temporary', JSON.stringify(q3));
  assert.equal(await admin().queue(vhost, 'q3'), null, 'q3 is half done: only its temporary queue holds its messages');
  const repaired = await rollBack(new MigrationService(ctx), ctx, failed.record, ids);
  assert.ok(repaired.queues.some((q) => q.name === 'q3' && q.status === 'completed'));
  await assertRestored(vhost, before);
  assert.equal((await waitForStatus(ctx, failed.id, ['rollback_completed'])).record.status, 'rollback_completed');
});

test('POST rollback/:id and qmig undo: a linked run (schemas), 400 on a bad body, 403 for a tenant without rights on the vhost, 404 for an unknown id', async (t) => {
  const vhost = await testVhost(t);
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: vhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'only', {}, 1);
  await publish(vhost, { queue: 'only' }, messages(30, 'only'));
  await waitSynchronised(vhost);
  const before = await snapshotOf(vhost, ['only']);
  const P = '/api/queue-migration';
  const call = async (path: string, init: { body?: unknown; auth?: { user: string; password: string } } = {}) => {
    const res = await s.api(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      ...(init.auth ? { auth: init.auth } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  const { ctx, ids } = engineSession(t, vhost);

  const started = await call(`${P}/start/${encodeURIComponent(vhost)}`, { body: {} });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = started.body.migration_id as string;
  ids.push(id);
  await waitForStatus(ctx, id, ['completed']);

  const bad = await call(`${P}/rollback/${id}`, { body: { queue_names: [] } });
  assert.equal(bad.status, 400);
  assertSchema('error-response', bad.body);
  const unknownField = await call(`${P}/rollback/${id}`, { body: { force: true } });
  assert.equal(unknownField.status, 400);
  assert.equal((await call(`${P}/rollback/cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw`, { body: {} })).status, 404);

  // A policymaker of another vhost (a tenant) may not undo this vhost's migration.
  const other = await testVhost(t);
  const tenant = await testUser(t, ['policymaker'], [other]);
  const forbidden = await call(`${P}/rollback/${id}`, { body: {}, auth: tenant });
  assert.equal(forbidden.status, 403, JSON.stringify(forbidden.body));
  assertSchema('error-response', forbidden.body);
  assert.equal((await admin().queue(vhost, 'only'))?.type, 'quorum', 'nothing was rolled back for the tenant');

  // The operator's way: `qmig undo` (its --json output is the route's answer).
  const cli = await runCli(['undo', id, '--reason', 'consumers need classic semantics', '--json'], {
    QMIG_URL: s.url,
    QMIG_CLI_USER: 'guest',
    QMIG_CLI_PASSWORD: 'guest',
  });
  assertExit(cli, 0, 'qmig undo');
  const ok = { body: JSON.parse(cli.stdout) as { migration_id: string; rollback_of: string } };
  assertSchema('rollback-response', ok.body);
  assert.equal(ok.body.rollback_of, id);
  ids.push(ok.body.migration_id);
  await waitForStatus(ctx, ok.body.migration_id, ['completed']);
  const detail = await (await s.api(`${P}/status/${ok.body.migration_id}`)).json();
  assertSchema('status-detail-response', detail);
  assert.equal(detail.migration.kind, 'rollback');
  assert.equal(detail.migration.rollback_of, id);
  assert.equal(detail.queues[0].status, 'completed');
  assert.deepEqual(detail.queues[0].mirroring_policy, { policy: 'ha', mirrored: true });
  const original = await (await s.api(`${P}/status/${id}`)).json();
  assertSchema('status-detail-response', original);
  assert.equal(original.migration.status, 'rollback_completed');
  assert.deepEqual(original.migration.rollbacks, [ok.body.migration_id]);
  assert.equal(original.queues[0].rolled_back_by, ok.body.migration_id);
  await assertRestored(vhost, before);
});

test('a rollback whose sidecar is SIGKILLed in its first move, between its moves and in its second move is resumed by housekeeping: nothing lost', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  const names = ['in-move-1', 'between-moves', 'in-move-2', 'waiting'];
  for (let i = 0; i < names.length; i++) {
    // Above QMIG_SHOVEL_MIN_MESSAGES (1,000) for the three that hang in or between shovel moves.
    await classicQueue(vhost, names[i], {}, i % 3);
    await publish(vhost, { queue: names[i] }, i === 3 ? 10 : 1500 + i * 100);
    await admin().bindQueue(vhost, 'amq.direct', names[i], `rk-${names[i]}`, {});
  }
  await waitSynchronised(vhost);
  const before = await snapshotOf(vhost, names);
  const svc = new MigrationService(ctx);
  const forward = await migrate(svc, ctx, vhost, ids);

  const child = spawnEngine(
    t,
    vhost,
    [
      { queue: 'in-move-1', at: 'shovel:to-temporary' },
      // The step graph's names: in a rollback this step declares the classic queue.
      { queue: 'between-moves', at: 'step:declare_quorum' },
      { queue: 'in-move-2', at: 'shovel:to-quorum' },
    ],
    forward.id,
  );
  await child.waitFor((e) => e.filter((x) => x.hang).length === 3);
  const rollbackId = child.events.find((e) => e.started)!.started!;
  ids.push(rollbackId);
  await child.kill();
  const orphan = await waitForStatus(ctx, rollbackId, ['in_progress']);
  assert.equal(orphan.record.kind, 'rollback');
  assert.equal(orphan.queues.find((q) => q.name === 'between-moves')?.phase, 'delete_quorum', 'recorded under its rollback name');
  assert.equal(await admin().queue(vhost, 'between-moves'), null, 'the quorum queue was deleted before the kill');

  const service = new MigrationService(ctx);
  const housekeeper = new Housekeeper(ctx, service);
  t.after(() => housekeeper.stop());
  assert.equal((await housekeeper.runOnce()).ran, true);
  assert.deepEqual(service.running(), [rollbackId]);
  await service.whenFinished(rollbackId);
  const done = await waitForStatus(ctx, rollbackId, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(done.record.status, 'completed', `${done.record.error} ${JSON.stringify(done.queues.map((q) => [q.name, q.status, q.error]))}`);
  assert.ok(done.record.notes.some((n) => /resumed by/.test(n)));
  await assertRestored(vhost, before);
  assert.equal((await waitForStatus(ctx, forward.id, ['rollback_completed'])).record.status, 'rollback_completed');
});
