/**
 * Per-message TTL on the real 3.10 cluster: the expiring_messages check samples the queues'
 * heads without losing or reordering anything and names the queues whose messages would expire
 * during the estimated move; a migration whose messages expire mid-move completes with every
 * expired message counted exactly (`expired_messages`) and no tolerance.
 *
 * Expiry is made certain, not raced: both classic and quorum queues on 3.10 expire a message
 * only when it reaches the head, so TTL messages published behind a plain "blocker" message
 * cannot expire until a move takes the blocker; the test waits for their TTL to pass before
 * letting that move run (an engine hook), so they expire exactly during it.
 */
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { test } from 'node:test';
import { runCheck } from '../../src/checks/assessment.js';
import type { ExpiringQueue } from '../../src/checks/expiring-messages.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { presentQueue } from '../../src/http/presenters.js';
import type { QueueRecord, QueueStep } from '../../src/state/records.js';
import { admin, amqpUrl } from '../support/cluster.js';
import { checkOf, waitFor } from '../support/checks-agreement.js';
import { messageCount, publish, type TestMessage } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { caller, classicQueue, engineContext, engineSession, sleep, startOptions, waitForStatus, waitSynchronised } from './migration-support.js';

const msgs = (tag: string, n: number, expiration?: number): TestMessage[] =>
  Array.from({ length: n }, (_, i) => ({
    body: `${tag}-${i}`,
    properties: { persistent: true, messageId: `${tag}-${i}`, ...(expiration !== undefined ? { expiration: String(expiration) } : {}) },
  }));

/** Every message of the queue in order (basic.get, no ack: requeued when the connection closes), with its redelivered flag. */
async function readInOrder(vhost: string, queue: string): Promise<Array<{ id: string; redelivered: boolean }>> {
  const conn = await amqplib.connect(amqpUrl(vhost));
  try {
    const ch = await conn.createChannel();
    const out: Array<{ id: string; redelivered: boolean }> = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) return out;
      out.push({ id: String(m.properties.messageId), redelivered: m.fields.redelivered });
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

test('check: queue heads are sampled without loss or reordering; queues whose messages would expire during the move are named', async (t) => {
  const vhost = await testVhost(t);
  const ctx = engineContext(t, vhost);
  await mirrorPolicy(vhost, '.*');
  const SHORT_TTL = 60_000;
  const published: Record<string, TestMessage[]> = {
    short: [...msgs('short', 150, SHORT_TTL), ...msgs('short-plain', 50)],
    day: msgs('day', 100, 86_400_000),
    plain: msgs('plain', 30),
    qttl: msgs('qttl', 50),
    busy: msgs('busy', 20, SHORT_TTL),
  };
  for (const name of Object.keys(published)) await classicQueue(vhost, name, name === 'qttl' ? { 'x-message-ttl': 600_000 } : {});
  for (const [name, list] of Object.entries(published)) await publish(vhost, { queue: name }, list);
  // A consumer that holds one message unacknowledged: `busy` must not be sampled.
  const consumerConn = await amqplib.connect(amqpUrl(vhost));
  t.after(() => consumerConn.close().catch(() => undefined));
  const cch = await consumerConn.createChannel();
  await cch.prefetch(1);
  await cch.consume('busy', () => undefined, { noAck: false });
  await waitSynchronised(vhost);
  await waitFor('statistics of every queue (messages, consumers)', async () => {
    const qs = await admin().queues(vhost);
    return qs.length === 5 && qs.every((q) => q.messages === published[q.name].length && (q.name !== 'busy' || q.consumers === 1));
  });

  const report = await runCheck(ctx, vhost, { skip_unsuitable_queues: false, allow_message_ttl: true });
  assertSchema('check-response', report);
  const c = checkOf(report, 'expiring_messages');
  const details = c.details as { queues: ExpiringQueue[]; queues_with_ttl: number; estimated_expiring_messages: number };
  const byName = new Map(details.queues.map((q) => [q.queue, q]));

  const short = byName.get('short')!;
  assert.equal(short.sampled, 20);
  assert.equal(short.sampled_with_expiration, 20);
  assert.equal(short.min_ttl_ms, SHORT_TTL);
  assert.ok(short.estimated_move_ms > 0);
  // Every sampled message carries the TTL: the estimate is the queue's messages × min(1, move / TTL).
  assert.equal(short.estimated_expiring, Math.round(200 * Math.min(1, short.estimated_move_ms / SHORT_TTL)));
  assert.ok(short.estimated_expiring > 0);
  assert.equal(c.status, 'warning', c.message);
  assert.match(c.message, /'short' ≈\d+ of 200/);

  const day = byName.get('day')!;
  assert.equal(day.sampled_with_expiration, 20);
  assert.equal(day.estimated_expiring, Math.round(100 * Math.min(1, day.estimated_move_ms / 86_400_000)));
  assert.doesNotMatch(c.message, /'day'/);
  assert.equal(byName.get('qttl')!.queue_ttl_ms, 600_000);
  assert.equal(byName.get('qttl')!.sampled_with_expiration, 0);
  assert.equal(byName.has('plain'), false, 'a queue without any TTL is not listed');
  const busy = byName.get('busy')!;
  assert.equal(busy.sampled, 0);
  assert.match(busy.not_sampled ?? '', /1 consumer/);
  assert.equal(details.queues_with_ttl, 3);

  // Nothing lost, nothing reordered; the sampled head messages come back marked redelivered.
  await consumerConn.close();
  for (const [name, list] of Object.entries(published)) {
    if (name === 'busy') continue;
    const now = await readInOrder(vhost, name);
    assert.deepEqual(
      now.map((m) => m.id),
      list.map((m) => m.properties!.messageId),
      `${name}: same messages, same order`,
    );
    const redelivered = now.filter((m) => m.redelivered).length;
    assert.equal(redelivered, Math.min(20, list.length), `${name}: only the sampled head is marked redelivered`);
    assert.deepEqual(
      now.slice(0, redelivered).map((m) => m.redelivered),
      Array(redelivered).fill(true),
    );
  }
});

test('migration: messages that expire mid-move are counted exactly (sidecar moves, a shovel move, a queue TTL) with no tolerance', async (t) => {
  const vhost = await testVhost(t);
  // Queues below 100 messages are moved by the sidecar itself, `shovelled` by a shovel.
  const { ctx, ids } = engineSession(t, vhost, { QMIG_SHOVEL_MIN_MESSAGES: '100' });
  await mirrorPolicy(vhost, '.*');
  const TTL = 3000;
  const N = 10;
  // Published when the queue's migration begins (clients are fenced; the test publishes as the
  // service account): [blocker, N with TTL, M plain]. Expected at the end: blocker + M.
  const plan: Record<string, { m: number; expireBefore: QueueStep | null; queueTtl?: number }> = {
    'in-source': { m: 20, expireBefore: 'move_to_temporary' },
    'in-temporary': { m: 20, expireBefore: 'move_to_quorum' },
    shovelled: { m: 150, expireBefore: 'move_to_temporary' },
    plain: { m: 20, expireBefore: null },
    'queue-ttl': { m: 0, expireBefore: 'move_to_temporary', queueTtl: TTL },
  };
  for (const [name, p] of Object.entries(plan)) await classicQueue(vhost, name, p.queueTtl ? { 'x-message-ttl': p.queueTtl } : {});
  await waitSynchronised(vhost);

  const content = (name: string): TestMessage[] => {
    const p = plan[name];
    if (p.queueTtl) return msgs(name, N); // the queue's TTL applies to every one of them
    return [...msgs(`${name}-blocker`, 1), ...(p.expireBefore ? msgs(`${name}-ttl`, N, TTL) : []), ...msgs(`${name}-plain`, p.m)];
  };
  const survivors = (name: string) => (plan[name].queueTtl ? 0 : 1 + plan[name].m);
  const service = new MigrationService(ctx, {
    hooks: {
      async beforeStep({ queue, step }) {
        const p = plan[queue];
        if (!p) return;
        if (step === 'save') await publish(vhost, { queue }, content(queue));
        // Until this move takes the blocker, the TTL messages cannot expire (head-only expiry);
        // once their TTL has certainly passed, they expire during this very move.
        if (step === p.expireBefore) await sleep(TTL + 500);
      },
    },
  });

  // Without allow_message_ttl or a tolerance: the queue with a queue TTL goes in a second run.
  const first = await service.start(vhost, startOptions({ queue_names: ['in-source', 'in-temporary', 'shovelled', 'plain'] }), caller);
  ids.push(first.migration_id);
  await service.whenFinished(first.migration_id);
  const second = await service.start(vhost, startOptions({ queue_names: ['queue-ttl'], allow_message_ttl: true }), caller);
  ids.push(second.migration_id);
  await service.whenFinished(second.migration_id);

  const queues: QueueRecord[] = [];
  for (const id of ids) {
    const { record, queues: qs } = await waitForStatus(ctx, id, ['completed', 'failed', 'rollback_pending', 'interrupted']);
    assert.equal(record.status, 'completed', `${record.error} ${JSON.stringify(qs.map((q) => [q.name, q.status, q.error]))}`);
    queues.push(...qs);
  }
  for (const q of queues) {
    const p = plan[q.name];
    const published = content(q.name).length;
    assert.equal(q.status, 'completed', `${q.name}: ${q.error}`);
    assert.equal(q.original?.message_count, published, `${q.name}: saved with every message it was given`);
    assert.equal((await admin().queue(vhost, q.name))?.type, 'quorum');
    assert.equal(await messageCount(vhost, q.name), survivors(q.name), `${q.name}: what survives`);
    const view = presentQueue(q);
    assertSchema('queue-status', view);
    if (!p.expireBefore) {
      assert.equal(q.detail.expired_messages, undefined, `${q.name}: nothing expired`);
      assert.equal(view.expired_messages, undefined);
      continue;
    }
    assert.equal(q.detail.expired_messages, published - survivors(q.name), `${q.name}: every expired message counted`);
    assert.equal(view.expired_messages, published - survivors(q.name));
    const notes = (q.detail.verification_notes ?? []).join(' | ');
    assert.match(notes, new RegExp(`^${published - survivors(q.name)} message\\(s\\) expired`), `${q.name}: ${notes}`);
    assert.doesNotMatch(notes, /tolerance|allow_message_ttl/, `${q.name}: counted, not tolerated`);
    if (q.name === 'shovelled') assert.match(notes, /shovel does not report/);
    else if (q.name === 'in-source')
      assert.match(notes, new RegExp(`0 before the move reached them, ${N} in the source during the move, 0 in the temporary queue`));
    else if (q.name === 'in-temporary')
      assert.match(notes, new RegExp(`0 before the move reached them, ${N} in the source during the move, 0 in the quorum queue`));
  }
  // The survivors are the blocker and the plain messages, in order.
  const left = await readInOrder(vhost, 'in-temporary');
  assert.deepEqual(
    left.map((m) => m.id),
    [...msgs('in-temporary-blocker', 1), ...msgs('in-temporary-plain', plan['in-temporary'].m)].map((m) => m.properties!.messageId),
  );
});
