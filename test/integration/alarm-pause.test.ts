/**
 * Pause on alarm (issue 17, item 3) on the real cluster: a real disk alarm raised while a
 * migration runs (rabbitmqctl set_disk_free_limit above the disk's size on one node) pauses it
 * before its next queue — status `paused` with the alarm as reason, the next queues not started —
 * and clearing the alarm lets it go on to `completed` with every queue's content intact; an
 * interrupt while paused ends it `interrupted`, the queues not started left as they were.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presentMigration } from '../../src/http/presenters.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { admin, cluster, rabbitmqctl } from '../support/cluster.js';
import { waitFor } from '../support/checks-agreement.js';
import { fingerprint, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

const ALARMED = 2;
const alarmedNode = () => cluster.nodeNames[ALARMED];

async function raiseDiskAlarm(): Promise<void> {
  await rabbitmqctl(ALARMED, 'set_disk_free_limit', '1000GB');
  await waitFor('disk alarm on', async () => (await admin().nodes()).find((n) => n.name === alarmedNode())?.disk_free_alarm);
}

async function clearDiskAlarm(): Promise<void> {
  await rabbitmqctl(ALARMED, 'set_disk_free_limit', '50MB');
  await waitFor('disk alarm cleared', async () => !(await admin().nodes()).some((n) => n.disk_free_alarm));
}

async function prepare(t: Parameters<typeof engineSession>[0], names: string[]) {
  const vhost = await testVhost(t);
  const session = engineSession(t, vhost, { QMIG_MIGRATION_CONCURRENCY: '1', QMIG_ALARM_CHECK_SECONDS: '1' });
  await mirrorPolicy(vhost, '.*');
  for (const [i, name] of names.entries()) {
    await classicQueue(vhost, name, {}, i % 3);
    await publish(vhost, { queue: name }, 40 + i);
  }
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const name of names) before.set(name, await fingerprint(vhost, name));
  // The alarm goes up just before the first queue's last step (nothing of it is published then).
  let raised = false;
  const service = new MigrationService(session.ctx, {
    hooks: {
      beforeStep: async ({ step }) => {
        if (step !== 'finish' || raised) return;
        raised = true;
        await raiseDiskAlarm();
      },
    },
  });
  // Whatever happens, the shared cluster gets its disk limit back.
  t.after(clearDiskAlarm);
  return { vhost, ...session, service, before };
}

test('a disk alarm raised mid-run pauses the migration before its next queue; cleared, it goes on and completes with every message', async (t) => {
  const names = ['a-first', 'b-second', 'c-third'];
  const { vhost, ctx, ids, service, before } = await prepare(t, names);
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);

  const paused = await waitForStatus(ctx, id, ['paused', 'completed', 'failed', 'rollback_pending']);
  assert.equal(paused.record.status, 'paused');
  assert.equal(paused.record.paused_reason, `disk alarm on ${alarmedNode()}`);
  const view = presentMigration(paused.record);
  assertSchema('migration-record', view);
  assert.equal(view.paused_reason, `disk alarm on ${alarmedNode()}`);
  // Held: the first queue done, the next ones not started while the alarm lasts.
  await new Promise((r) => setTimeout(r, 2500));
  const held = await waitForStatus(ctx, id, ['paused']);
  assert.deepEqual(held.queues.map((q) => q.status).sort(), ['completed', 'pending', 'pending']);

  await clearDiskAlarm();
  await service.whenFinished(id);
  const done = await waitForStatus(ctx, id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
  assert.equal(done.record.status, 'completed', `${done.record.error}`);
  assert.equal(done.record.paused_reason ?? null, null);
  assert.ok(
    done.record.notes.some((n) => new RegExp(`^paused \\d+ s at .* \\(disk alarm on ${alarmedNode()}\\)$`).test(n)),
    JSON.stringify(done.record.notes),
  );
  for (const name of names) {
    assert.equal((await admin().queue(vhost, name))?.type, 'quorum', `${name} is quorum`);
    assert.deepEqual(await fingerprint(vhost, name), before.get(name), `${name}: every message, content intact`);
  }
});

test('an interrupt while paused ends the migration interrupted: the queues not started stay mirrored classic with their messages', async (t) => {
  const names = ['a-first', 'b-second'];
  const { vhost, ctx, ids, service, before } = await prepare(t, names);
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);
  assert.equal((await waitForStatus(ctx, id, ['paused', 'completed', 'failed'])).record.status, 'paused');
  await service.interrupt(id, caller);
  await service.whenFinished(id);
  const done = await waitForStatus(ctx, id, ['interrupted', 'completed', 'failed', 'rollback_pending']);
  assert.equal(done.record.status, 'interrupted');
  assert.deepEqual(done.queues.map((q) => q.status).sort(), ['completed', 'skipped']);
  const skipped = done.queues.find((q) => q.status === 'skipped')!;
  assert.equal(skipped.error, 'interrupted');
  assert.equal((await admin().queue(vhost, skipped.name))?.type, 'classic');
  assert.deepEqual(await fingerprint(vhost, skipped.name), before.get(skipped.name), 'the queue not started keeps its messages');
});
