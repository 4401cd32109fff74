import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import type { ClusterSnapshotActivity } from '../snapshots/index.js';
import { checkAsStart, evaluate, startRefusal, type AssessOptions, type EvaluateConfig } from './assessment.js';
import type { ClusterSnapshot, NodeState } from './cluster-snapshot.js';
import type { RelaxedProbeResult } from './relaxed-checks.js';
import { MIB } from './types.js';

const CONFIG: EvaluateConfig = {
  memoryThreshold: 0.8,
  diskSafetyFactor: 2,
  diskMarginMb: 500,
  relaxedChecksAsWarning: false,
  leaderBalanceRatio: 1.6,
  leaderBalanceMinQueues: 10,
  maxQueuesPerMigration: 10000,
  concurrency: 6,
};
const ACCEPTED: RelaxedProbeResult = { probe_queue: 'p', without_queue_type: { accepted: true }, explicit_classic: { accepted: true } };
const REFUSED: RelaxedProbeResult = {
  probe_queue: 'p',
  without_queue_type: { accepted: false, code: 406, error: 'PRECONDITION_FAILED - inequivalent arg' },
  explicit_classic: { accepted: false, code: 406 },
};
const NONE: ClusterSnapshotActivity = { mode: 'none', nodes: [], errors: [] };

const node = (name: string, extra: Partial<NodeState> = {}): NodeState => ({
  name,
  running: true,
  mem_used: 100 * MIB,
  mem_limit: 1000 * MIB,
  mem_alarm: false,
  disk_free: 10_000 * MIB,
  disk_free_limit: 50 * MIB,
  disk_free_alarm: false,
  partitions: [],
  running_applications: ['rabbit', 'rabbitmq_shovel'],
  ...extra,
});
const mirrored = (name: string, extra: Partial<BrokerQueue> = {}): BrokerQueue => ({
  name,
  vhost: 'v',
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

function snapshot(queues: BrokerQueue[], nodes: NodeState[] = [node('n1'), node('n2'), node('n3')]): ClusterSnapshot {
  return {
    nodes,
    rabbitmq_version: '3.10.8',
    cluster_name: 'c',
    gathered_at: '2025-01-01 00:00:00',
    vhost: { name: 'v' },
    queues,
    policies: [{ vhost: 'v', name: 'ha', pattern: '.*', 'apply-to': 'queues', definition: { 'ha-mode': 'exactly', 'ha-params': 2 }, priority: 0 }],
  };
}
const checkOpts = (skip = false): AssessOptions => checkAsStart({ skip_unsuitable_queues: skip, allow_message_ttl: false });

/** The invariant of the chain: ready exactly when start does not refuse; a refusal names a failed check. */
function assertAgreement(s: ClusterSnapshot, probe: RelaxedProbeResult, opts: AssessOptions, config = CONFIG, activity = NONE) {
  const a = evaluate(s, probe, activity, opts, config);
  const refusal = startRefusal(a.report);
  assert.equal(a.report.overall_ready, refusal === null);
  if (refusal) {
    const failedMessages = a.report.system_checks.checks.filter((c) => c.status === 'failed').map((c) => c.message);
    assert.ok(failedMessages.includes(refusal.reason), `${refusal.reason} not among ${failedMessages.join(' / ')}`);
  }
  return { a, refusal };
}

test('a healthy cluster with suitable mirrored queues is ready and start would proceed', () => {
  const { a, refusal } = assertAgreement(snapshot([mirrored('a'), mirrored('b')]), ACCEPTED, checkOpts());
  assert.equal(refusal, null);
  assert.equal(a.report.system_checks.all_passed, true);
  assert.deepEqual(a.report.queue_checks.summary, { total_queues: 2, unsuitable_queues: 0, compatibility_percentage: 100, compatible_queues: 2 });
  assert.deepEqual(
    a.toMigrate.map((q) => q.name),
    ['a', 'b'],
  );
  assert.deepEqual(
    a.report.system_checks.checks.map((c) => c.check_type),
    [
      'shovel_plugin',
      'cluster_health',
      'active_alarms',
      'memory_usage',
      'disk_space',
      'relaxed_checks_setting',
      'leader_balance',
      'queue_synchronization',
      'queue_suitability',
      'expiring_messages',
      'snapshot_not_in_progress',
      'eligible_queues',
    ],
  );
});

test('relaxed checks refused on 3.10: failed and blocking, or a non-blocking warning when configured', () => {
  const { refusal } = assertAgreement(snapshot([mirrored('a')]), REFUSED, checkOpts());
  assert.match(refusal?.reason ?? '', /406 PRECONDITION_FAILED/);
  const warn = assertAgreement(snapshot([mirrored('a')]), REFUSED, checkOpts(), { ...CONFIG, relaxedChecksAsWarning: true });
  assert.equal(warn.refusal, null);
  assert.equal(warn.a.report.system_checks.all_passed, false);
  assert.equal(warn.a.report.system_checks.checks.find((c) => c.check_type === 'relaxed_checks_setting')?.status, 'warning');
});

test('unsuitable queues block with the spec body; skip mode turns them into skipped entries', () => {
  const qs = [
    mirrored('ok'),
    mirrored('ttl', { arguments: { 'x-message-ttl': 1000 } }),
    mirrored('excl', { exclusive: true }),
    mirrored('ad', { auto_delete: true }),
  ];
  const { a, refusal } = assertAgreement(snapshot(qs), ACCEPTED, checkOpts());
  assert.equal(refusal?.reason, 'Found 2 queue(s) with issues (too many messages, too many bytes, or unsuitable arguments)');
  assert.deepEqual(refusal?.body(), { error: 'bad_request', reason: refusal?.reason, problematic_queue_count: 2 });
  assert.deepEqual(a.report.queue_checks.summary, { total_queues: 4, unsuitable_queues: 2, compatibility_percentage: 50, compatible_queues: 2 });

  const skip = assertAgreement(snapshot(qs), ACCEPTED, checkOpts(true));
  assert.equal(skip.refusal, null);
  assert.deepEqual(
    skip.a.toMigrate.map((q) => q.name),
    ['ad', 'ok'],
  );
  assert.deepEqual(skip.a.skipped.map((s) => s.name).sort(), ['excl', 'ttl']);
  assert.equal(skip.a.skipped.find((s) => s.name === 'ttl')?.reason, 'message_ttl');
  assert.match(skip.a.skipped.find((s) => s.name === 'ttl')?.detail ?? '', /^message_ttl: /);
  assert.equal(skip.a.report.system_checks.checks.find((c) => c.check_type === 'queue_suitability')?.status, 'warning');
});

test('no mirrored queue, or everything skipped: "No eligible queues found for migration"', () => {
  const empty = assertAgreement(snapshot([]), ACCEPTED, checkOpts());
  assert.equal(empty.refusal?.reason, 'No eligible queues found for migration');
  assert.deepEqual(empty.refusal?.body(), { error: 'bad_request', reason: 'No eligible queues found for migration', vhost: 'v' });
  const allSkipped = assertAgreement(snapshot([mirrored('x', { durable: false })]), ACCEPTED, checkOpts(true));
  assert.match(allSkipped.refusal?.reason ?? '', /^No eligible queues found for migration: all 1 mirrored queue/);
});

test('queue_names: only unknown names refuse; known ones proceed and unknown ones are skipped', () => {
  const base = { ...checkOpts(), queue_names: ['nope', 'also-nope'] };
  const only = assertAgreement(snapshot([mirrored('a')]), ACCEPTED, base);
  assert.match(
    only.refusal?.reason ?? '',
    /^No eligible queues found for migration: none of the requested queue_names can be migrated \(not found: nope, also-nope\)/,
  );
  const mixed = assertAgreement(snapshot([mirrored('a'), mirrored('b')]), ACCEPTED, { ...base, queue_names: ['b', 'nope'] });
  assert.equal(mixed.refusal, null);
  assert.deepEqual(
    mixed.a.toMigrate.map((q) => q.name),
    ['b'],
  );
  assert.deepEqual(mixed.a.skipped, [{ name: 'nope', reason: 'queue does not exist' }]);
});

test('system refusals, in order: shovel, node down, alarm, memory, disk, imbalance', () => {
  const qs = [mirrored('a', { message_bytes: 100 * MIB })];
  const noShovel = assertAgreement(snapshot(qs, [node('n1', { running_applications: ['rabbit'] }), node('n2')]), ACCEPTED, checkOpts());
  assert.equal(
    noShovel.refusal?.reason,
    'rabbitmq_shovel plugin must be enabled for migration. Enable the plugin with: rabbitmq-plugins enable rabbitmq_shovel',
  );
  const down = assertAgreement(snapshot(qs, [node('n1'), { name: 'n2', running: false }]), ACCEPTED, checkOpts());
  assert.match(down.refusal?.reason ?? '', /node\(s\) down: n2/);
  const alarm = assertAgreement(snapshot(qs, [node('n1', { disk_free_alarm: true }), node('n2')]), ACCEPTED, checkOpts());
  assert.match(alarm.refusal?.reason ?? '', /disk alarm on n1/);
  const memory = assertAgreement(snapshot(qs, [node('n1', { mem_used: 900 * MIB }), node('n2')]), ACCEPTED, checkOpts());
  assert.match(memory.refusal?.reason ?? '', /Memory usage above 80%/);
  const disk = assertAgreement(snapshot(qs, [node('n1', { disk_free: 600 * MIB }), node('n2')]), ACCEPTED, checkOpts());
  assert.equal(disk.refusal?.reason, 'Insufficient disk space for migration. Required: 700MB, Available: 550MB');
  const twelve = Array.from({ length: 12 }, (_, i) => mirrored(`q${i}`, { node: 'n1' }));
  const imbalanced = assertAgreement(snapshot(twelve), ACCEPTED, checkOpts());
  assert.equal(imbalanced.refusal?.reason, 'Queue leaders are imbalanced. Re-balance queue leaders before migration.');
});

test('disk counts only the queues that will be migrated (skip mode leaves skipped ones out)', () => {
  const qs = [mirrored('big', { message_bytes: 1000 * MIB, arguments: { 'x-expires': 1 } }), mirrored('small', { message_bytes: 10 * MIB })];
  const nodes = [node('n1', { disk_free: 1000 * MIB })];
  const skip = evaluate(snapshot(qs, nodes), ACCEPTED, NONE, checkOpts(true), CONFIG);
  assert.equal(skip.report.system_checks.checks.find((c) => c.check_type === 'disk_space')?.details?.required_mb, 520);
  const noSkip = evaluate(snapshot(qs, nodes), ACCEPTED, NONE, checkOpts(false), CONFIG);
  assert.equal(noSkip.report.system_checks.checks.find((c) => c.check_type === 'disk_space')?.details?.required_mb, 2520);
});

test('ebs snapshots in progress, or an EC2 nobody could ask, block', () => {
  const nodes = [node('n1'), node('n2')];
  const pending: ClusterSnapshotActivity = {
    mode: 'ebs',
    errors: [],
    nodes: [
      {
        node: 'n1',
        mode: 'ebs',
        volume_id: 'vol-1',
        in_progress: [{ snapshot_id: 'snap-1', volume_id: 'vol-1', state: 'pending', progress: '10%', started_at: null }],
      },
      { node: 'n2', mode: 'ebs', volume_id: 'vol-2', in_progress: [] },
    ],
  };
  const p = assertAgreement(snapshot([mirrored('a')], nodes), ACCEPTED, checkOpts(), CONFIG, pending);
  assert.match(p.refusal?.reason ?? '', /EBS snapshot\(s\) in progress: snap-1 of vol-1 \(n1, 10%\)/);
  const unreachable: ClusterSnapshotActivity = {
    mode: 'ebs',
    errors: [{ source: 'this sidecar (n1)', error: 'EC2 DescribeSnapshots unreachable' }],
    nodes: [pending.nodes[1]],
  };
  const u = assertAgreement(snapshot([mirrored('a')], nodes), ACCEPTED, checkOpts(), CONFIG, unreachable);
  assert.match(
    u.refusal?.reason ?? '',
    /^Cannot tell whether EBS snapshots are in progress: this sidecar \(n1\): EC2 DescribeSnapshots unreachable; no sidecar answered for node\(s\) n1/,
  );
  const clear: ClusterSnapshotActivity = { ...pending, nodes: pending.nodes.map((n) => ({ ...n, in_progress: [] })) };
  assert.equal(assertAgreement(snapshot([mirrored('a')], nodes), ACCEPTED, checkOpts(), CONFIG, clear).refusal, null);
});
