import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import { checkAsStart, evaluate, startRefusal } from './assessment.js';
import { selectQueues } from './queue-selection.js';
import { HOUSEKEEPING_LOCK, MIGRATION_LOCK, PROBE_PREFIX, TRANSFER_LOCK, isInternalQueue, temporaryQueueName } from '../broker/names.js';

const mirrored = (name: string, extra: Partial<BrokerQueue> = {}): BrokerQueue => ({
  name,
  vhost: '/',
  type: 'classic',
  durable: true,
  auto_delete: false,
  exclusive: false,
  arguments: {},
  node: 'n1',
  slave_nodes: ['n2'],
  synchronised_slave_nodes: ['n2'],
  policy: 'ha',
  effective_policy_definition: { 'ha-mode': 'exactly', 'ha-params': 2 },
  message_bytes: 0,
  ...extra,
});
/** The migration lock as GET /api/queues/%2F shows it when an `ha` policy of `/` matches `.*`. */
const lockQueue = mirrored(MIGRATION_LOCK, { durable: false, exclusive: true, slave_nodes: [], synchronised_slave_nodes: [] });

test('the names the engine, the locks and the probe really use are internal; user names are not', () => {
  for (const name of [
    MIGRATION_LOCK,
    HOUSEKEEPING_LOCK,
    TRANSFER_LOCK,
    temporaryQueueName('orders'),
    temporaryQueueName('x'.repeat(300)),
    `${PROBE_PREFIX}abc123`,
  ]) {
    assert.equal(isInternalQueue(name), true, name);
  }
  for (const name of ['orders', 'qmig', 'qmig.lock', 'my.qmig.tmp.q', 'QMIG.TMP.x', '']) assert.equal(isInternalQueue(name), false, name);
});

test("selectQueues never takes qmig's own queues, and reports them as ineligible when named", () => {
  const queues = [mirrored('a'), lockQueue, mirrored(temporaryQueueName('a')), mirrored('b')];
  assert.deepEqual(
    selectQueues(queues, { queue_names: null, batch_size: 'all', batch_order: 'smallest_first' }).candidates.map((q) => q.name),
    ['a', 'b'],
  );
  const named = selectQueues(queues, { queue_names: ['a', MIGRATION_LOCK], batch_size: 'all', batch_order: 'smallest_first' });
  assert.deepEqual(
    named.candidates.map((q) => q.name),
    ['a'],
  );
  assert.deepEqual(
    named.ineligible.map((q) => q.name),
    [MIGRATION_LOCK],
  );
  assert.match(named.ineligible[0].reason, /internal queue of qmig/);
});

test('the exclusive lock queue in the state vhost does not make start refuse "Found 1 queue(s) with issues"', () => {
  const snapshot = {
    nodes: ['n1', 'n2', 'n3'].map((name) => ({
      name,
      running: true,
      mem_used: 1,
      mem_limit: 1e9,
      mem_alarm: false,
      disk_free: 1e12,
      disk_free_limit: 1,
      disk_free_alarm: false,
      partitions: [],
      running_applications: ['rabbit', 'rabbitmq_shovel'],
    })),
    rabbitmq_version: '3.10.8',
    cluster_name: 'c',
    gathered_at: '2025-01-01 00:00:00',
    vhost: { name: '/' },
    queues: [mirrored('a'), lockQueue],
    policies: [{ vhost: '/', name: 'ha', pattern: '.*', 'apply-to': 'queues', definition: { 'ha-mode': 'exactly', 'ha-params': 2 }, priority: 0 }],
  };
  const a = evaluate(
    snapshot,
    { probe_queue: 'p', without_queue_type: { accepted: true }, explicit_classic: { accepted: true } },
    { mode: 'none', nodes: [], errors: [] },
    checkAsStart({ skip_unsuitable_queues: false, allow_message_ttl: false }),
    {
      memoryThreshold: 0.8,
      diskSafetyFactor: 2,
      diskMarginMb: 500,
      relaxedChecksAsWarning: false,
      leaderBalanceRatio: 1.6,
      leaderBalanceMinQueues: 10,
      maxQueuesPerMigration: 10000,
      concurrency: 6,
    },
  );
  assert.equal(startRefusal(a.report), null, JSON.stringify(a.report.system_checks.checks.filter((c) => c.status !== 'passed')));
  assert.deepEqual(
    a.toMigrate.map((q) => q.name),
    ['a'],
  );
  assert.equal(a.report.queue_checks.summary.total_queues, 1);
});
