/**
 * Transfers (xfer) between two real, independent clusters: the 3-node source "test" and the 1-node
 * target "test-target". The TransferService is driven directly (a Context of the source cluster).
 * - a vhost needing URL encoding, a classic and a quorum queue bound from topic, headers (binding
 *   arguments) and direct exchanges: topology recreated, messages (bodies, properties, headers)
 *   identical end to end, source queues left in place and empty, the reason in the audit log;
 * - queue_names (with a missing name), then everything with remove_source_queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { enc, type BrokerBinding, type BrokerExchange } from '../../src/broker/management-client.js';
import { TransferService } from '../../src/transfer/transfer-service.js';
import { admin } from '../support/cluster.js';
import { fingerprint, messageCount, publish, type TestMessage } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { testVhost } from '../support/vhost.js';
import {
  cleanupTargetVhost,
  cleanupTransferRecords,
  countAt,
  fingerprintAt,
  sourceAmqpUrl,
  sourceContext,
  targetAdmin,
  targetAmqpUrl,
  targetCluster,
  targetUser,
} from './transfer-support.js';

function richMessages(prefix: string, n: number): TestMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: i % 3 === 0 ? randomBytes(64 + i) : `${prefix}-${i}-${'x'.repeat(i % 50)}`,
    properties: {
      persistent: i % 2 === 0,
      contentType: i % 2 ? 'application/json' : 'application/octet-stream',
      contentEncoding: 'utf-8',
      correlationId: `corr-${i}`,
      replyTo: 'reply.queue',
      messageId: `${prefix}-${i}`,
      timestamp: 1_700_000_000 + i,
      type: 'order.created',
      appId: 'qmig-test',
      userId: 'guest',
      priority: i % 5,
      expiration: '86400000',
      headers: {
        n: i,
        region: i % 2 ? 'eu' : 'us',
        nested: { level: 2, list: [1, 'two', true], deep: { f: 1.5 } },
        flag: i % 2 === 0,
        big: 2 ** 40 + i,
        empty: '',
        unicode: 'über 日本語',
      },
    },
  }));
}

const bindingKey = (b: Pick<BrokerBinding, 'source' | 'routing_key' | 'arguments'>) =>
  JSON.stringify([b.source, b.routing_key, Object.entries(b.arguments ?? {}).sort()]);

test('pattern selection moves a classic and a quorum queue with their exchanges and bindings; messages identical end to end; reason audited', async (t) => {
  const vhost = await testVhost(t, { suffix: '/x&y über' });
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx, audit } = sourceContext(t);
  const src = admin();
  // impersonator: the messages carry user_id 'guest', which the target checks against its login.
  const tgtUser = await targetUser(t, ['administrator', 'impersonator']);

  // Exchanges of several kinds, one with arguments and one internal.
  const exchanges: Record<string, Omit<BrokerExchange, 'name' | 'vhost'>> = {
    'ex.topic': { type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
    'ex.headers': { type: 'headers', durable: true, auto_delete: false, internal: false, arguments: { 'alternate-exchange': 'ex.ae' } },
    'ex.direct': { type: 'direct', durable: false, auto_delete: false, internal: true, arguments: {} },
  };
  for (const [name, def] of Object.entries(exchanges)) await src.declareExchange(vhost, name, def);
  await src.declareQueue(vhost, 'orders.classic', { durable: true, arguments: { 'x-max-length': 100000, 'x-max-priority': 10 } });
  await src.declareQueue(vhost, 'orders.quorum', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 } });
  await src.declareQueue(vhost, 'other', { durable: true });
  await src.bindQueue(vhost, 'ex.topic', 'orders.classic', 'orders.#', {});
  await src.bindQueue(vhost, 'ex.headers', 'orders.classic', '', { 'x-match': 'all', region: 'eu', level: 3 });
  await src.bindQueue(vhost, 'ex.topic', 'orders.quorum', 'orders.*.eu', {});
  await src.bindQueue(vhost, 'ex.direct', 'orders.quorum', 'k1', {});
  await src.bindQueue(vhost, 'ex.direct', 'orders.quorum', 'k2', { tag: 'second' });

  await publish(vhost, { queue: 'orders.classic' }, richMessages('c', 300));
  await publish(vhost, { queue: 'orders.quorum' }, richMessages('q', 200));
  await publish(vhost, { queue: 'other' }, 7);
  const before = {
    classic: await fingerprint(vhost, 'orders.classic'),
    quorum: await fingerprint(vhost, 'orders.quorum'),
  };
  assert.equal(before.classic.length, 300);
  assert.equal(before.quorum.length, 200);
  // The fast reader gives the same fingerprints as test/support/messages.ts.
  assert.deepEqual(await fingerprintAt(sourceAmqpUrl(vhost), 'orders.classic'), before.classic);

  const service = new TransferService(ctx, { pollMs: 200 });
  const reason = `maintenance window CHG-${randomBytes(3).toString('hex')}: move orders to blue`;
  const { transfer_id, status } = await service.start(
    { target: targetCluster.managementUrl, target_user: tgtUser.user, target_password: tgtUser.password, reason, vhost, pattern: '^orders\\.' },
    'guest',
  );
  assert.equal(status, 'started');
  assertSchema('xfer-accepted', { transfer_id, status });
  await service.whenFinished(transfer_id);

  const record = await service.get(transfer_id);
  assertSchema('xfer-record', record);
  assert.equal(record.status, 'completed', JSON.stringify(record, null, 1));
  assert.deepEqual(record.queues.map((q) => q.name).sort(), ['orders.classic', 'orders.quorum']);
  for (const q of record.queues) {
    assert.equal(q.status, 'completed');
    assert.equal(q.expected_messages, q.name === 'orders.classic' ? 300 : 200);
    assert.equal(q.moved_messages, q.expected_messages);
    assert.equal(q.left_at_source, 0);
    assert.equal(q.source_removed, false);
    assert.equal(q.shovel, null);
  }
  assert.equal(record.moved_messages, 500);
  assert.equal(record.reason, reason);
  assert.equal(record.who, 'guest');
  assert.equal(record.target, targetCluster.managementUrl);
  assert.equal(record.target_amqp, `amqp://127.0.0.1:${new URL(targetCluster.amqpUrl).port}/${enc(vhost)}`);
  assert.ok(!JSON.stringify(record).includes(tgtUser.password), 'the target password is not in the record');
  const stored = await ctx.mgmt.globalParameter(`qmig.xfer.${transfer_id}`);
  assert.ok(stored, 'the record is a global runtime parameter');
  assert.ok(!JSON.stringify(stored).includes(tgtUser.password));
  assert.ok(
    record.notes.some((n) => /created vhost/.test(n)),
    JSON.stringify(record.notes),
  );

  // Topology on the target.
  const tgt = targetAdmin();
  for (const [name, def] of Object.entries(exchanges)) {
    const x = await tgt.exchange(vhost, name);
    assert.ok(x, `exchange ${name} exists on the target`);
    assert.deepEqual({ type: x.type, durable: x.durable, auto_delete: x.auto_delete, internal: x.internal, arguments: x.arguments }, def);
  }
  const tq = await tgt.queue(vhost, 'orders.quorum');
  assert.equal(tq?.type, 'quorum');
  assert.equal(tq?.arguments['x-delivery-limit'], 10);
  const tc = await tgt.queue(vhost, 'orders.classic');
  assert.equal(tc?.type, 'classic');
  assert.equal(tc?.arguments['x-max-priority'], 10);
  assert.equal(await tgt.queue(vhost, 'other'), null, 'a queue outside the pattern is not created');
  for (const name of ['orders.classic', 'orders.quorum']) {
    const want = (await src.queueBindings(vhost, name))
      .filter((b) => b.source !== '')
      .map(bindingKey)
      .sort();
    const got = (await tgt.queueBindings(vhost, name))
      .filter((b) => b.source !== '')
      .map(bindingKey)
      .sort();
    assert.deepEqual(got, want, `bindings of ${name}`);
  }

  // Messages: the same bodies, properties and headers on the target; the source queues empty, kept.
  // (read as the target user: qmig created the vhost on the target and gave only that user access)
  const asTargetUser = targetAmqpUrl(vhost, tgtUser.user, tgtUser.password);
  assert.deepEqual(await fingerprintAt(asTargetUser, 'orders.classic'), before.classic);
  assert.deepEqual(await fingerprintAt(asTargetUser, 'orders.quorum'), before.quorum);
  assert.equal(await messageCount(vhost, 'orders.classic'), 0);
  assert.equal(await messageCount(vhost, 'orders.quorum'), 0);
  assert.ok(await src.queue(vhost, 'orders.quorum'), 'the source queue is left in place by default');
  assert.equal(await messageCount(vhost, 'other'), 7);
  assert.deepEqual(await ctx.mgmt.shovelParameters(vhost), [], 'no shovel left behind');

  // The audit log: one record per queue moved, with who, what, where, why and counts.
  const entries = audit().filter((a) => a.action === 'xfer_queue' && a.migration_id === transfer_id);
  assert.deepEqual(entries.map((a) => a.queue).sort(), ['orders.classic', 'orders.quorum']);
  for (const a of entries) {
    assert.equal(a.who, 'guest');
    assert.equal(a.vhost, vhost);
    assert.equal(a.details.reason, reason);
    assert.equal(a.details.target, targetCluster.managementUrl);
    assert.equal(a.details.status, 'completed');
    assert.equal(a.details.moved_messages, a.queue === 'orders.classic' ? 300 : 200);
  }
  assert.ok(audit().some((a) => a.action === 'xfer_started' && a.details.reason === reason));
  assert.ok(!JSON.stringify(audit()).includes(tgtUser.password), 'the password is not in the audit log');

  // Listed, newest first.
  const list = await service.list();
  assertSchema('xfer-list', { transfers: list });
  assert.equal(list.find((r) => r.id === transfer_id)?.status, 'completed');
});

test('queue_names (a missing name is skipped), then everything with remove_source_queue into existing target queues', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx, audit } = sourceContext(t);
  const src = admin();
  for (const q of ['a', 'b', 'c']) await src.declareQueue(vhost, q, { durable: true, arguments: q === 'c' ? { 'x-queue-type': 'quorum' } : {} });
  await publish(vhost, { queue: 'a' }, 50);
  await publish(vhost, { queue: 'b' }, 40);
  await publish(vhost, { queue: 'c' }, 30);
  const service = new TransferService(ctx, { pollMs: 200 });
  const creds = { target: targetCluster.managementUrl + '/', target_user: targetCluster.user, target_password: targetCluster.password, vhost };

  const first = await service.start({ ...creds, reason: 'only a', queue_names: ['a', 'missing'] }, 'guest');
  await service.whenFinished(first.transfer_id);
  const r1 = await service.get(first.transfer_id);
  assert.equal(r1.status, 'completed');
  assert.equal(r1.target, targetCluster.managementUrl, 'trailing slash normalised');
  assert.deepEqual(
    r1.queues.map((q) => [q.name, q.status]),
    [
      ['a', 'completed'],
      ['missing', 'skipped'],
    ],
  );
  assert.match(r1.queues[1].error ?? '', /does not exist/);
  assert.equal(await countAt(targetAmqpUrl(vhost), 'a'), 50);
  assert.equal(await targetAdmin().queue(vhost, 'b'), null);
  assert.equal(await messageCount(vhost, 'b'), 40);

  // More messages for a; everything with remove_source_queue: a exists on the target already.
  await publish(vhost, { queue: 'a' }, 5);
  const second = await service.start({ ...creds, reason: 'decommission', everything: true, remove_source_queue: true }, 'guest');
  await service.whenFinished(second.transfer_id);
  const r2 = await service.get(second.transfer_id);
  assertSchema('xfer-record', r2);
  assert.equal(r2.status, 'completed', JSON.stringify(r2, null, 1));
  for (const q of r2.queues) {
    assert.equal(q.status, 'completed');
    assert.equal(q.source_removed, true);
    assert.equal(await src.queue(vhost, q.name), null, `source queue ${q.name} removed after verification`);
  }
  assert.ok(r2.queues.find((q) => q.name === 'a')?.notes.some((n) => /already existed/.test(n)));
  assert.equal(await countAt(targetAmqpUrl(vhost), 'a'), 55);
  assert.equal(await countAt(targetAmqpUrl(vhost), 'b'), 40);
  assert.equal(await countAt(targetAmqpUrl(vhost), 'c'), 30);
  assert.equal((await targetAdmin().queue(vhost, 'c'))?.type, 'quorum');
  const removed = audit().filter((a) => a.action === 'xfer_queue' && a.migration_id === second.transfer_id);
  assert.equal(removed.length, 3);
  assert.ok(removed.every((a) => a.details.reason === 'decommission' && a.details.source_removed === true));

  const list = await service.list();
  const ids = list.map((r) => r.id);
  assert.ok(ids.indexOf(second.transfer_id) < ids.indexOf(first.transfer_id), 'newest first');
});
