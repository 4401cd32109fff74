/**
 * Messages that show up after the engine emptied a queue. With clients fenced nobody can publish,
 * so they are copies the broker handed back (shovel acknowledgements lost when a node stopped):
 * the engine takes them out — exact copies are told apart by content and dropped — and the
 * result is the original multiset. When copies cannot be told apart (the queue held identical
 * messages before), nothing is dropped and the over-tolerance decides, reported. Without the
 * fence they are new publishes and become part of the count.
 * A "redelivery" is staged by publishing copies of original messages at the point a broker
 * failure would produce them (the service account is never fenced): into the classic queue after
 * the first move, and into the quorum queue while the second move runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationService } from '../../src/migration/migration-service.js';
import amqplib from 'amqplib';
import { admin, amqpUrl } from '../support/cluster.js';
import { fingerprint, messageCount, publish, type TestMessage } from '../support/messages.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineSession, shovelsOf, startOptions, waitSynchronised } from './migration-support.js';

const COUNT = 200;
const BIG = 1200;

/** Messages i in [from, to) exactly as `publish(vhost, q, COUNT)` writes them (so: exact copies). */
function originals(from: number, to: number): TestMessage[] {
  return Array.from({ length: to - from }, (_, k) => {
    const i = from + k;
    return { body: `message-${i}`, properties: { persistent: true, messageId: `m${i}`, headers: { n: i } } };
  });
}

test('clients fenced: copies from a broker redelivery are removed in either phase; identical originals make it ambiguous → nothing removed, over tolerance → rollback_pending', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  const names = ['copies-phase1', 'copies-phase2', 'twins'];
  for (const [i, n] of names.entries()) await classicQueue(vhost, n, {}, i % 3);
  // copies-phase2 is big enough for a shovel (QMIG_SHOVEL_MIN_MESSAGES): the copies are staged while it runs.
  for (const n of names) await publish(vhost, { queue: n }, n === 'copies-phase2' ? BIG : COUNT);
  await publish(vhost, { queue: 'twins' }, originals(0, 10)); // 10 messages that were identical from the start
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const n of names) before.set(n, await fingerprint(vhost, n));

  const staged = new Set<string>();
  const stage = async (queue: string, messages: TestMessage[]) => {
    staged.add(queue);
    await publish(vhost, { queue }, messages);
  };
  const service = new MigrationService(ctx, {
    hooks: {
      // After the first move: copies reappear in the classic queue (10 % of the queue).
      beforeStep: async ({ queue, step }) => {
        if (step === 'delete_classic' && queue !== 'copies-phase2' && !staged.has(queue)) await stage(queue, originals(100, 120));
      },
      // During the second move: copies land in the quorum queue.
      onShovelCreated: async ({ queue, direction }) => {
        if (direction === 'to-quorum' && queue === 'copies-phase2' && !staged.has(queue)) await stage(queue, originals(50, 65));
      },
    },
  });
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);
  await service.whenFinished(id);

  const record = (await ctx.store.loadRecord(id))!;
  const queues = await ctx.store.loadQueues(record);
  const byName = (n: string) => queues.find((q) => q.name === n)!;
  assert.deepEqual([...staged].sort(), [...names].sort(), 'every queue got its copies');
  assert.equal(record.status, 'rollback_pending', record.error ?? '');

  for (const [name, removed, count] of [
    ['copies-phase1', 20, COUNT],
    ['copies-phase2', 15, BIG],
  ] as const) {
    const q = byName(name);
    assert.equal(q.status, 'completed', `${name}: ${q.error}`);
    assert.equal(q.detail.copies_removed, removed, `${name}: ${JSON.stringify(q.detail)}`);
    assert.equal(q.total_messages, count, 'copies are never adopted as expected messages');
    assert.equal((await admin().queue(vhost, name))!.type, 'quorum');
    assert.deepEqual(await fingerprint(vhost, name), before.get(name), `${name}: exactly the original messages`);
  }

  const twins = byName('twins');
  assert.equal(twins.status, 'failed');
  assert.match(record.error ?? '', /twins/);
  assert.match(
    twins.error ?? '',
    /230 messages, expected 210 \(more than the 5% tolerance allows\); clients are fenced, so the surplus are copies the broker redelivered/,
  );
  assert.equal(twins.detail.copies_removed, undefined, 'copies that cannot be told apart are not removed');
  assert.ok(
    (twins.detail.verification_notes as string[]).some((n) => /20 surplus message\(s\) .* could not be told apart/.test(n)),
    JSON.stringify(twins.detail),
  );
  assert.equal(twins.location, 'quorum');
  assert.equal(await messageCount(vhost, 'twins'), 230, 'every message, the copies included, is in the one place the record names');
  const after = await fingerprint(vhost, 'twins');
  const copies = await (async () => {
    // before + the 20 staged copies, as a multiset
    const all = [...before.get('twins')!];
    const probe = `qmig-probe-${Date.now()}`;
    await admin().declareQueue(vhost, probe, { durable: false, arguments: {} });
    await publish(vhost, { queue: probe }, originals(100, 120));
    all.push(...(await fingerprint(vhost, probe)));
    await admin().deleteQueue(vhost, probe);
    return all.sort();
  })();
  assert.deepEqual(after, copies, 'nothing lost: the originals and the copies');
  assert.deepEqual(await shovelsOf(vhost), []);
});

test('clients not fenced: messages published during the migration become part of the count and arrive', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost, { QMIG_FENCE_CLIENTS: 'false' });
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'late', {}, 0);
  await publish(vhost, { queue: 'late' }, COUNT);
  await waitSynchronised(vhost);
  let staged = false;
  const service = new MigrationService(ctx, {
    hooks: {
      beforeStep: async ({ step }) => {
        if (step !== 'delete_classic' || staged) return;
        staged = true;
        await publish(
          vhost,
          { queue: 'late' },
          [...Array(30).keys()].map((i) => ({ body: `late-${i}` })),
        );
      },
    },
  });
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);
  await service.whenFinished(id);

  const record = (await ctx.store.loadRecord(id))!;
  const [late] = await ctx.store.loadQueues(record);
  assert.ok(staged);
  assert.equal(record.status, 'completed', record.error ?? '');
  assert.equal(late.total_messages, COUNT + 30);
  assert.equal(late.detail.excess_messages, undefined);
  assert.equal(late.detail.redelivered_messages, undefined);
  assert.equal((await admin().queue(vhost, 'late'))!.type, 'quorum');
  assert.equal(await messageCount(vhost, 'late'), COUNT + 30);
});

test("a small queue holding a message with another user's user-id: the sidecar cannot republish it, a shovel moves the queue, nothing lost", async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'stamped', {}, 1);
  await publish(vhost, { queue: 'stamped' }, 20);
  // A publisher with the impersonator tag may stamp any user-id.
  const stamper = await testUser(t, ['impersonator'], [vhost]);
  const conn = await amqplib.connect(amqpUrl(vhost, 0, stamper.user, stamper.password));
  const ch = await conn.createConfirmChannel();
  ch.publish('', 'stamped', Buffer.from('stamped'), { userId: 'someone-else', messageId: 'stamped-1', persistent: true });
  await ch.waitForConfirms();
  await conn.close();
  await waitSynchronised(vhost);
  const before = await fingerprint(vhost, 'stamped');

  const service = new MigrationService(ctx);
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);
  await service.whenFinished(id);
  const record = (await ctx.store.loadRecord(id))!;
  const [q] = await ctx.store.loadQueues(record);
  t.diagnostic(`stamped: migration ${record.status}, queue ${q.status} at ${q.location}: ${q.error ?? ''}`);
  const where = q.location === 'temporary' ? String(q.detail.temporary_queue) : 'stamped';
  assert.deepEqual(await fingerprint(vhost, where), before, 'every message, the stamped one included, is where the record says');
  assert.equal(record.status, 'completed', record.error ?? '');
  assert.equal((await admin().queue(vhost, 'stamped'))!.type, 'quorum');
  assert.deepEqual(await shovelsOf(vhost), []);
});
