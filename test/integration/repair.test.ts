/**
 * Repair of half-done queues (issue 16): a migration whose queues failed at every step the step
 * graph can stop in leaves them classic, split, only in the temporary queue, or quorum; `check`
 * names the half-done ones with their fix (system check `leftovers`), and one call finishes them
 * forward (`repair`) or undoes them (`rollback`) — decided from what the broker shows, with the
 * messages counted again (clients were let back in after the failure), verified by content.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { runCheck } from '../../src/checks/assessment.js';
import type { Context } from '../../src/context.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import type { QueueStep } from '../../src/state/records.js';
import { mirroredNow, waitForQueues } from '../support/checks-agreement.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, shovelsOf, sleep, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

/** Every step after `save` that a queue can stop in. */
const STEPS: QueueStep[] = ['declare_temporary', 'move_to_temporary', 'delete_classic', 'declare_quorum', 'move_to_quorum', 'delete_temporary', 'finish'];

interface Failed {
  ctx: Context;
  vhost: string;
  ids: string[];
  migrationId: string;
  before: Map<string, string[]>;
}

/** A vhost whose queue `at-<step>` fails just before <step>, all of them in the same migration. */
async function failEverywhere(t: TestContext): Promise<Failed> {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost, { QMIG_MIGRATION_CONCURRENCY: String(STEPS.length) });
  await mirrorPolicy(vhost, '.*');
  for (const [i, step] of STEPS.entries()) {
    const name = `at-${step}`;
    await classicQueue(vhost, name, {}, i % 3);
    await publish(
      vhost,
      { queue: name },
      Array.from({ length: 15 + i }, (_, k) => ({ body: `${name}-${k}`, properties: { messageId: `${name}-${k}`, headers: { k, step } } })),
    );
  }
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const step of STEPS) before.set(`at-${step}`, await fingerprint(vhost, `at-${step}`));

  // Every queue is started before any of them fails (a failure stops new queues from starting).
  const started = new Set<string>();
  const svc = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ queue, step }) => {
        if (step === 'save') started.add(queue);
        if (queue !== `at-${step}`) return;
        for (let i = 0; i < 300 && started.size < STEPS.length; i++) await sleep(100);
        throw new Error(`injected failure before ${step}`);
      },
    },
  });
  const { migration_id } = await svc.start(vhost, startOptions(), caller);
  ids.push(migration_id);
  await svc.whenFinished(migration_id);
  const { queues } = await waitForStatus(ctx, migration_id, ['rollback_pending']);
  for (const q of queues) assert.equal(q.status, 'failed', `${q.name}: ${q.status} ${q.error}`);
  return { ctx, vhost, ids, migrationId: migration_id, before };
}

const names = async (vhost: string) => new Set((await admin().queues(vhost, ['name'])).map((q) => q.name));

async function leftovers(ctx: Context, vhost: string) {
  const report = await runCheck(ctx, vhost, { skip_unsuitable_queues: false, allow_message_ttl: false });
  return report.system_checks.checks.find((c) => c.check_type === 'leftovers')!;
}

/** Clients let back in after the failure publish `n` more messages under the queue's own name. */
async function clientPublishes(vhost: string, queue: string, n: number): Promise<string[]> {
  await publish(
    vhost,
    { queue },
    Array.from({ length: n }, (_, k) => ({ body: `late-${k}`, properties: { messageId: `late-${k}` } })),
  );
  return fingerprint(vhost, queue);
}

test('repair: queues failed at every step are finished forward from what the broker shows, new messages included; check names the half-done ones first', async (t) => {
  const f = await failEverywhere(t);
  const present = await names(f.vhost);
  // Failed before its quorum queue was declared: the messages wait in the temporary queue only.
  assert.ok(!present.has('at-declare_quorum') && present.has('qmig.tmp.at-declare_quorum'), [...present].join(', '));
  // A client that came back declares the queue again (a quorum queue, as its code now does) and
  // publishes: the queue is split between it and the temporary queue.
  await admin().declareQueue(f.vhost, 'at-declare_quorum', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(f.vhost, { queue: 'at-declare_quorum' }, [{ body: 'after-the-failure', properties: { messageId: 'late' } }]);

  const found = await leftovers(f.ctx, f.vhost);
  assert.equal(found.status, 'failed', found.message);
  assert.match(
    found.message,
    new RegExp(`at-declare_quorum: split between .*fix: qmig repair ${f.migrationId} \\(finish forward\\) or qmig undo ${f.migrationId}`),
  );

  // Another intact failed queue gets a message from a client too: the repair counts it.
  const late = await clientPublishes(f.vhost, 'at-finish', 2);
  const svc = new MigrationService(f.ctx);
  await assert.rejects(svc.startRepair((await f.ctx.store.loadRecord(f.migrationId))!, { queue_names: ['nope'], reason: null }, caller), { status: 400 });
  const { migration_id } = await svc.startRepair((await f.ctx.store.loadRecord(f.migrationId))!, { queue_names: null, reason: 'finish the window' }, caller);
  f.ids.push(migration_id);
  await svc.whenFinished(migration_id);
  const repair = await waitForStatus(f.ctx, migration_id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(repair.record.status, 'completed', `${repair.record.error} ${JSON.stringify(repair.queues.map((q) => [q.name, q.status, q.error]))}`);
  assert.equal(repair.record.kind, 'repair');
  assert.equal(repair.record.repair_of, f.migrationId);

  for (const step of STEPS) {
    const name = `at-${step}`;
    assert.equal((await admin().queue(f.vhost, name))?.type, 'quorum', `${name} is a quorum queue`);
    const want =
      name === 'at-finish' ? late : name === 'at-declare_quorum' ? [...f.before.get(name)!, ...(await fingerprintOfLate(f.vhost))].sort() : f.before.get(name)!;
    const got = await fingerprint(f.vhost, name);
    assert.deepEqual(name === 'at-declare_quorum' ? [...got].sort() : got, want, `${name}: messages`);
  }
  assert.deepEqual(await shovelsOf(f.vhost), []);
  assert.ok(![...(await names(f.vhost))].some((n) => n.startsWith('qmig.')), 'no temporary queue left');
  const migration = await waitForStatus(f.ctx, f.migrationId, ['completed']);
  assert.ok(migration.queues.every((q) => q.status === 'completed' && q.detail.repaired_by === migration_id));
  assert.deepEqual(migration.record.repairs, [migration_id]);
  assert.equal((await leftovers(f.ctx, f.vhost)).status, 'passed');
});

/** The fingerprint of the one message published into at-declare_quorum after the failure. */
async function fingerprintOfLate(vhost: string): Promise<string[]> {
  const probe = `late-probe-${Date.now()}`;
  await admin().declareQueue(vhost, probe, { durable: true, arguments: {} });
  try {
    await publish(vhost, { queue: probe }, [{ body: 'after-the-failure', properties: { messageId: 'late' } }]);
    return await fingerprint(vhost, probe);
  } finally {
    await admin().deleteQueue(vhost, probe);
  }
}

test('undo: the same failures rolled back to mirrored classic, a split queue included, every message kept', async (t) => {
  const f = await failEverywhere(t);
  // The client that came back declared the classic queue again and published into it.
  await admin().declareQueue(f.vhost, 'at-declare_quorum', { durable: true, arguments: {} });
  await publish(f.vhost, { queue: 'at-declare_quorum' }, [{ body: 'after-the-failure', properties: { messageId: 'late' } }]);
  const extra = await fingerprintOfLate(f.vhost);

  const svc = new MigrationService(f.ctx);
  const { migration_id } = await svc.startRollback(
    (await f.ctx.store.loadRecord(f.migrationId))!,
    { queue_names: null, tolerance: null, reason: null },
    caller,
  );
  f.ids.push(migration_id);
  await svc.whenFinished(migration_id);
  const back = await waitForStatus(f.ctx, migration_id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(back.record.status, 'completed', `${back.record.error} ${JSON.stringify(back.queues.map((q) => [q.name, q.status, q.error]))}`);

  await waitForQueues(
    f.vhost,
    STEPS.map((s) => `at-${s}`),
    mirroredNow,
  );
  for (const step of STEPS) {
    const name = `at-${step}`;
    assert.equal((await admin().queue(f.vhost, name))?.type, 'classic', `${name} is classic`);
    const want = name === 'at-declare_quorum' ? [...f.before.get(name)!, ...extra].sort() : f.before.get(name)!;
    const got = await fingerprint(f.vhost, name);
    assert.deepEqual(name === 'at-declare_quorum' ? [...got].sort() : got, want, `${name}: messages`);
  }
  assert.ok(![...(await names(f.vhost))].some((n) => n.startsWith('qmig.')), 'no temporary queue left');
  assert.equal((await waitForStatus(f.ctx, f.migrationId, ['rollback_completed'])).record.status, 'rollback_completed');
  assert.equal((await leftovers(f.ctx, f.vhost)).status, 'passed');
});
