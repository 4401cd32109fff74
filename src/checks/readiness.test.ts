import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerPolicy, BrokerQueue } from '../broker/management-client.js';
import { judgeReadiness, readinessCheck, strippedDefinition, type ReadinessInput } from './readiness.js';

const queue = (name: string, extra: Partial<BrokerQueue> = {}): BrokerQueue => ({
  name,
  vhost: 'v',
  type: 'classic',
  durable: true,
  auto_delete: false,
  exclusive: false,
  arguments: {},
  policy: null,
  effective_policy_definition: {},
  slave_nodes: [],
  ...extra,
});
const policy = (name: string, definition: Record<string, unknown>): BrokerPolicy => ({
  vhost: 'v',
  name,
  pattern: '.*',
  'apply-to': 'queues',
  priority: 0,
  definition,
});
const ha = { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' };
const mirroredBy = (p: string) => ({ policy: p, effective_policy_definition: ha, slave_nodes: ['n2'] });

const input = (over: Partial<ReadinessInput>): ReadinessInput => ({ vhost: 'v', queues: [], policies: [], channels: [], ...over });
const kinds = (r: ReturnType<typeof judgeReadiness>) => r.items.map((i) => `${i.kind}:${i.severity}:${i.subjects.map((s) => s.name).join(',')}`);

test('a vhost of quorum queues with delivery limits, v2 classic queues and no mirroring: nothing to report', () => {
  const r = judgeReadiness(
    input({
      queues: [queue('qq', { type: 'quorum', arguments: { 'x-delivery-limit': 5 } }), queue('c2', { arguments: { 'x-queue-version': 2 } })],
      policies: [policy('limits', { 'max-length': 10 })],
    }),
  );
  assert.deepEqual(r, { vhost: 'v', ready_for_4x: true, items: [] });
  assert.equal(readinessCheck(r).status, 'passed');
});

test('a mirroring policy still mirroring queues to migrate is expected (info); one left over is a warning with its edit', () => {
  const r = judgeReadiness(
    input({
      queues: [queue('m1', mirroredBy('live')), queue('m2', { ...mirroredBy('live'), arguments: { 'x-delivery-limit': 3 } })],
      policies: [policy('live', ha), policy('old', { ...ha, 'max-length': 5 }), policy('pure', { 'ha-mode': 'exactly', 'ha-params': 2 })],
    }),
  );
  const mirroring = r.items.filter((i) => i.kind === 'mirroring_keys_in_policies');
  assert.deepEqual(
    mirroring.map((i) => [i.severity, i.subjects.map((s) => [s.name, s.new_definition])]),
    [
      [
        'warning',
        [
          ['old', { 'max-length': 5 }],
          ['pure', null],
        ],
      ],
      ['info', [['live', null]]],
    ],
  );
  assert.match(mirroring[1].subjects[0].detail!, /mirrors 2 queue\(s\) to migrate/);
  // The queues the migration turns into quorum queues: m2 has its own limit.
  assert.deepEqual(
    r.items.find((i) => i.kind === 'delivery_limit')?.subjects.map((s) => s.name),
    ['m1'],
  );
  assert.equal(r.ready_for_4x, false);
  const check = readinessCheck(r);
  assert.equal(check.status, 'warning');
  assert.deepEqual(
    (check.details?.items as Array<{ subject_count: number }>).map((i) => i.subject_count),
    [2, 1, 1],
  );
  assert.match(check.message, /mirroring_keys_in_policies \(2\)/);
});

test('each planted problem is named with its subjects; migratable mirrored queues are not reported as single-replica or v1', () => {
  const r = judgeReadiness(
    input({
      queues: [
        queue('qq', { type: 'quorum', message_stats: { redeliver: 7 } } as Partial<BrokerQueue>),
        queue('qq-policy-limit', { type: 'quorum', effective_policy_definition: { 'delivery-limit': 50 } }),
        queue('transient', { durable: false }),
        queue('excl', { durable: false, exclusive: true }),
        queue('mirrored-autodelete', { ...mirroredBy('live'), auto_delete: true }),
        queue('lazy', { arguments: { 'x-queue-mode': 'lazy' } }),
        queue('lazy-by-policy', { effective_policy_definition: { 'queue-mode': 'lazy', 'queue-version': 2 } }),
        queue('migrating', { ...mirroredBy('live'), arguments: { 'x-delivery-limit': 1 } }),
      ],
      policies: [policy('live', ha)],
      channels: [
        { name: 'c1', global_prefetch_count: 10, consumer_count: 2 },
        { name: 'c2', global_prefetch_count: 0 },
      ],
    }),
  );
  assert.deepEqual(kinds(r), [
    'mirroring_keys_in_policies:info:live',
    'delivery_limit:info:qq',
    'transient_queues:warning:transient',
    'global_qos:warning:c1',
    'single_replica_classic:warning:mirrored-autodelete',
    'lazy_mode:info:lazy,lazy-by-policy',
    'classic_queue_v1:info:excl,lazy,mirrored-autodelete,transient',
  ]);
  assert.equal(r.items[1].subjects[0].detail, '7 redelivery(ies) so far');
  assert.equal(r.items[3].subjects[0].detail, 'global prefetch 10, 2 consumer(s)');
});

test("check's details keep 20 subjects of an item and say how many there are", () => {
  const queues = Array.from({ length: 45 }, (_, i) => queue(`t${String(i).padStart(2, '0')}`, { durable: false }));
  const item = (readinessCheck(judgeReadiness(input({ queues }))).details?.items as Array<{ kind: string; subjects: unknown[]; subject_count: number }>).find(
    (i) => i.kind === 'transient_queues',
  )!;
  assert.equal(item.subjects.length, 20);
  assert.equal(item.subject_count, 45);
});

test('strippedDefinition keeps every other key and answers null when nothing is left', () => {
  assert.deepEqual(strippedDefinition({ 'ha-mode': 'all', 'ha-sync-batch-size': 5, 'max-length': 1, 'queue-version': 2 }), {
    'max-length': 1,
    'queue-version': 2,
  });
  assert.equal(strippedDefinition({ 'ha-mode': 'exactly', 'ha-params': 2, 'ha-promote-on-failure': 'always' }), null);
});
