/**
 * The migration engine end to end on the real 3-node cluster: a vhost of mirrored classic queues
 * of every kind becomes quorum queues in place, with translated arguments, identical bindings,
 * the leader on the old master's node, and exactly the same messages.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { translateArguments } from '../../src/migration/argument-translation.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { admin, cluster } from '../support/cluster.js';
import { fingerprint, publish, type TestMessage } from '../support/messages.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { caller, classicQueue, consumeFingerprint, engineSession, shovelsOf, startOptions, waitSynchronised } from './migration-support.js';

interface QueueSpec {
  name: string;
  args?: Record<string, unknown>;
  messages?: number | TestMessage[];
}

function richMessages(n: number, tag: string, extra: (i: number) => Record<string, unknown> = () => ({})): TestMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: i % 7 === 0 ? Buffer.from([0, 255, i % 256, 10, 13]) : `${tag}-${i}-${'x'.repeat(i % 50)}`,
    properties: {
      persistent: i % 3 !== 0,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: `corr-${i}`,
      messageId: `${tag}-${i}`,
      replyTo: 'replies',
      type: 'order.created',
      appId: 'qmig-test',
      userId: 'guest',
      timestamp: 1700000000 + i,
      headers: { n: i, tag, nested: { list: [1, 'two', { three: 3 }] }, flag: i % 2 === 0, 'x-custom': 'keep' },
      ...extra(i),
    },
  }));
}

test('a vhost of mixed mirrored classic queues migrates to quorum with the same arguments, bindings and messages', async (t) => {
  const vhost = await testVhost(t, { suffix: '/mix&ü' });
  const dir = mkdtempSync(join(tmpdir(), 'qmig-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const auditFile = join(dir, 'audit.log');
  const { ctx, ids } = engineSession(t, vhost, { QMIG_AUDIT_LOG: auditFile, QMIG_MIGRATION_CONCURRENCY: '4' });
  const mgmt = admin();

  await mirrorPolicy(vhost, '.*');
  for (const [name, type] of [
    ['events', 'topic'],
    ['docs', 'headers'],
    ['fan', 'fanout'],
    ['direct-x', 'direct'],
    ['dlx-ex', 'direct'],
  ] as const) {
    await mgmt.ok('PUT', `/exchanges/${enc(vhost)}/${enc(name)}`, { type, durable: true });
  }
  const specs: QueueSpec[] = [
    { name: 'empty-1' },
    { name: 'empty-2', args: { 'x-max-priority': 5 } },
    { name: 'big', messages: 10_000 },
    { name: 'prio', args: { 'x-max-priority': 10 }, messages: richMessages(60, 'prio', (i) => ({ priority: i % 11 })) },
    { name: 'lazy', args: { 'x-queue-mode': 'lazy' }, messages: richMessages(200, 'lazy') },
    { name: 'dlx', args: { 'x-dead-letter-exchange': 'dlx-ex', 'x-dead-letter-routing-key': 'dead' }, messages: richMessages(100, 'dlx') },
    { name: 'maxlen', args: { 'x-max-length': 500, 'x-overflow': 'reject-publish' }, messages: richMessages(120, 'maxlen') },
    { name: 'maxbytes', args: { 'x-max-length-bytes': 1_000_000, 'x-overflow': 'drop-head' }, messages: richMessages(30, 'maxbytes') },
    { name: 'headers-bound', messages: richMessages(40, 'hdr') },
    { name: 'topic-bound', messages: richMessages(40, 'topic') },
    { name: 'a/b&c ü', messages: richMessages(25, 'enc') },
    { name: 'sac', args: { 'x-single-active-consumer': true }, messages: richMessages(10, 'sac') },
    { name: 'custom', args: { 'x-custom-thing': 'abc', 'x-other': 42 }, messages: richMessages(15, 'custom') },
    { name: 'classic-only', args: { 'x-queue-version': 2, 'x-queue-master-locator': 'min-masters' }, messages: richMessages(20, 'co') },
    { name: 'e2q', messages: richMessages(5, 'e2q') },
    ...Array.from({ length: 7 }, (_, i): QueueSpec => ({ name: `plain-${i}`, messages: i === 0 ? undefined : richMessages(i * 7, `plain${i}`) })),
  ];
  assert.ok(specs.length >= 20);
  for (let i = 0; i < specs.length; i++) await classicQueue(vhost, specs[i].name, specs[i].args ?? {}, i % 3);
  const bind = (exchange: string, queue: string, routingKey: string, args: Record<string, unknown> = {}) =>
    mgmt.bindQueue(vhost, exchange, queue, routingKey, args);
  await bind('docs', 'headers-bound', '', { 'x-match': 'all', type: 'report', format: 'pdf' });
  await bind('docs', 'headers-bound', 'ignored-key', { 'x-match': 'any', urgent: true, level: 3 });
  await bind('events', 'topic-bound', 'orders.*.created');
  await bind('events', 'topic-bound', '#.audit');
  await bind('events', 'a/b&c ü', 'enc.#');
  await bind('fan', 'a/b&c ü', '');
  await bind('direct-x', 'e2q', '');
  await bind('direct-x', 'e2q', 'a key with spaces & symbols/ü');
  await bind('dlx-ex', 'dlx', 'dead');
  for (const s of specs) if (s.messages) await publish(vhost, { queue: s.name }, s.messages);
  // Some messages arrive through the exchanges, as an application would publish them.
  await publish(
    vhost,
    { exchange: 'docs', routingKey: '' },
    richMessages(3, 'via-headers', () => ({ headers: { type: 'report', format: 'pdf' } })),
  );
  await publish(vhost, { exchange: 'events', routingKey: 'orders.eu.created' }, richMessages(4, 'via-topic'));
  await waitSynchronised(vhost);

  const before = new Map<string, { args: Record<string, unknown>; bindings: string[]; node: string; fp: string[] }>();
  for (const s of specs) {
    const q = (await mgmt.queue(vhost, s.name))!;
    assert.equal(q.type, 'classic');
    before.set(s.name, { args: q.arguments, bindings: await bindingsOf(vhost, s.name), node: q.node!, fp: await fingerprint(vhost, s.name) });
  }
  assert.equal(before.get('big')!.fp.length, 10_000);
  assert.equal(before.get('headers-bound')!.fp.length, 43);

  const service = new MigrationService(ctx);
  const { migration_id: id } = await service.start(vhost, startOptions({ set_default_queue_type: 'quorum' }), caller);
  ids.push(id);
  await service.whenFinished(id);

  const record = (await ctx.store.loadRecord(id))!;
  const queues = await ctx.store.loadQueues(record);
  assert.equal(record.status, 'completed', `error: ${record.error}; queues: ${JSON.stringify(queues.filter((q) => q.status !== 'completed'))}`);
  assert.equal(record.completed_queues, specs.length);
  assert.equal(record.failed_queues, 0);
  assert.equal(record.skipped_queues, 0);
  assert.ok(record.completed_at);
  assert.ok(
    record.notes.some((n) => /set_default_queue_type=quorum not applied/.test(n)),
    JSON.stringify(record.notes),
  );
  for (const q of queues) {
    assert.equal(q.status, 'completed');
    assert.equal(q.location, 'quorum');
    assert.equal(q.migrated_messages, q.total_messages);
    assert.equal(q.total_messages, before.get(q.name)!.fp.length, q.name);
    assert.ok(q.started_at && q.completed_at);
  }

  for (const s of specs) {
    const was = before.get(s.name)!;
    const q = (await mgmt.queue(vhost, s.name))!;
    assert.equal(q.type, 'quorum', s.name);
    assert.deepEqual(q.arguments, translateArguments(was.args).arguments, `${s.name}: arguments`);
    assert.equal(q.leader, was.node, `${s.name}: leader on the old master's node`);
    assert.deepEqual(await bindingsOf(vhost, s.name), was.bindings, `${s.name}: bindings`);
    const after = s.args?.['x-single-active-consumer'] ? await consumeFingerprint(vhost, s.name, was.fp.length) : await fingerprint(vhost, s.name);
    assert.deepEqual(after, was.fp, `${s.name}: messages`);
  }
  assert.deepEqual(await shovelsOf(vhost), []);
  const leftovers = (await mgmt.queues(vhost)).filter((q) => q.name.startsWith('qmig.tmp.'));
  assert.deepEqual(
    leftovers.map((q) => q.name),
    [],
  );

  // One audit line per destructive step, with the migration id and the queue.
  const audit = readFileSync(auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const deletes = audit.filter((a) => a.action === 'delete_queue' && a.migration_id === id);
  for (const s of specs)
    assert.ok(
      deletes.some((a) => a.queue === s.name && a.details.type === 'classic'),
      `audit of deleting ${s.name}`,
    );
  assert.ok(audit.some((a) => a.action === 'create_shovel' && a.queue === 'big' && a.vhost === vhost));
  assert.ok(audit.every((a) => a.audit === true && typeof a.who === 'string' && typeof a.at === 'string'));
});

async function bindingsOf(vhost: string, queue: string): Promise<string[]> {
  const all = await admin().queueBindings(vhost, queue);
  return all
    .filter((b) => b.source !== '')
    .map((b) => JSON.stringify({ source: b.source, routing_key: b.routing_key, arguments: b.arguments }))
    .sort();
}

test('an empty queue takes the fast path: deleted, declared quorum on the same node, re-bound', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  await mirrorPolicy(vhost, '.*');
  await classicQueue(vhost, 'only', { 'x-max-priority': 3 }, 1);
  await admin().bindQueue(vhost, 'amq.topic', 'only', 'k.#', {});
  await waitSynchronised(vhost);
  const service = new MigrationService(ctx);
  const { migration_id: id } = await service.start(vhost, startOptions(), caller);
  ids.push(id);
  await service.whenFinished(id);
  const record = (await ctx.store.loadRecord(id))!;
  assert.equal(record.status, 'completed', record.error ?? '');
  const q = (await admin().queue(vhost, 'only'))!;
  assert.equal(q.type, 'quorum');
  assert.equal(q.leader, cluster.nodeNames[1]);
  assert.deepEqual(q.arguments, { 'x-queue-type': 'quorum' });
  assert.deepEqual(await bindingsOf(vhost, 'only'), [JSON.stringify({ source: 'amq.topic', routing_key: 'k.#', arguments: {} })]);
  const [queueRecord] = await ctx.store.loadQueues(record);
  assert.equal(queueRecord.original?.message_count, 0);
  assert.deepEqual(queueRecord.detail.dropped_arguments, ['x-max-priority']);
});
