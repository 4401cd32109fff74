/**
 * System checks on the real cluster, each shown failing and passing, with check and start
 * (assessStart) agreeing every time: relaxed-checks probe, unsynchronised mirror, imbalanced
 * masters, a real disk alarm, memory and disk thresholds, no eligible queue, and check/all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessStart, runCheckAll } from '../../src/checks/assessment.js';
import { enc } from '../../src/broker/management-client.js';
import { BadRequestError } from '../../src/errors.js';
import { admin, cluster, rabbitmqctl } from '../support/cluster.js';
import { checkAndStart, checkOf, mirroredNow, startOptions, waitFor, waitForQueues } from '../support/checks-agreement.js';
import { sidecarContext } from '../support/checks-context.js';
import { publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { PROBE_PREFIX } from '../../src/broker/names.js';

const WARN_ONLY = { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' };

/** n mirrored queues, masters placed by `nodeOf(i)` (index into the cluster's nodes). */
async function mirroredQueues(vhost: string, n: number, nodeOf: (i: number) => number, prefix = 'q'): Promise<string[]> {
  await mirrorPolicy(vhost);
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  await Promise.all(names.map((name, i) => admin().declareQueue(vhost, name, { durable: true, node: cluster.nodeNames[nodeOf(i)] })));
  await waitForQueues(vhost, names, mirroredNow);
  return names;
}

test('relaxed_checks_setting: refused redeclaration on 3.10 fails (or warns when configured); a quorum-default vhost passes; the probe leaves nothing', async (t) => {
  const strict = sidecarContext(t);
  const vhost = await testVhost(t);
  await mirroredQueues(vhost, 2, (i) => i % 3);
  const failing = await checkAndStart(strict, vhost);
  const relaxed = checkOf(failing.report, 'relaxed_checks_setting');
  assert.equal(relaxed.status, 'failed');
  assert.match(relaxed.message, /will get 406 PRECONDITION_FAILED .*inequivalent arg 'x-queue-type'.*received none but current is the value 'quorum'/);
  assert.equal(failing.refusal?.reason, relaxed.message);
  assert.deepEqual((relaxed.details?.redeclare_without_x_queue_type as { accepted: boolean }).accepted, false);

  const warnOnly = await checkAndStart(sidecarContext(t, WARN_ONLY), vhost);
  assert.equal(checkOf(warnOnly.report, 'relaxed_checks_setting').status, 'warning');
  assert.equal(warnOnly.refusal, null);

  const quorumDefault = await testVhost(t, { defaultQueueType: 'quorum' });
  await mirrorPolicy(quorumDefault);
  await admin().declareQueue(quorumDefault, 'classic-mirrored', { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await waitForQueues(quorumDefault, ['classic-mirrored'], mirroredNow);
  const passing = await checkAndStart(strict, quorumDefault);
  const ok = checkOf(passing.report, 'relaxed_checks_setting');
  assert.equal(ok.status, 'passed', ok.message);
  assert.match(ok.message, /vhost default queue type is quorum/);
  assert.equal(passing.refusal, null);

  for (const vh of [vhost, quorumDefault]) {
    const left = (await admin().queues(vh)).filter((q) => q.name.startsWith(PROBE_PREFIX));
    assert.deepEqual(left, [], `probe queues left in ${vh}`);
  }
});

test('queue_synchronization: a mirror added after messages were published with ha-sync-mode manual is unsynchronised until sync_queue', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const vhost = await testVhost(t);
  await admin().declareQueue(vhost, 'lagging', { durable: true, node: cluster.nodeNames[0] });
  await publish(vhost, { queue: 'lagging' }, 200);
  // Mirroring arrives only now, with manual synchronisation: the new mirror starts empty.
  await mirrorPolicy(vhost, '^lagging$', { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'manual' }, 'ha-manual');
  await waitForQueues(
    vhost,
    ['lagging'],
    (q) => mirroredNow(q) && (q.slave_nodes ?? []).length === 1 && Array.isArray(q.synchronised_slave_nodes) && q.synchronised_slave_nodes.length === 0,
  );

  const bad = await checkAndStart(ctx, vhost);
  const sync = checkOf(bad.report, 'queue_synchronization');
  assert.equal(sync.status, 'failed');
  assert.match(sync.message, /^1 mirrored queue\(s\) are not fully synchronized: lagging/);
  assert.equal(bad.refusal?.reason, sync.message);
  assert.deepEqual(
    bad.report.queue_checks.results.map((i) => [i.queue, i.type]),
    [['lagging', 'unsynchronized']],
  );

  const skip = await checkAndStart(ctx, vhost, { skip_unsuitable_queues: true });
  assert.equal(checkOf(skip.report, 'queue_synchronization').status, 'warning');
  assert.match(checkOf(skip.report, 'eligible_queues').message, /^No eligible queues found for migration: all 1 mirrored queue/);
  assert.equal(skip.report.overall_ready, false);

  await rabbitmqctl(0, 'sync_queue', '-p', vhost, 'lagging');
  await waitForQueues(vhost, ['lagging'], (q) => (q.synchronised_slave_nodes ?? []).length === 1);
  const good = await checkAndStart(ctx, vhost);
  assert.equal(checkOf(good.report, 'queue_synchronization').status, 'passed');
  assert.equal(good.refusal, null);
});

test('leader_balance: all masters on one node fail, 7/4/4 fails at 1.6, 4/4/4 passes, fewer than 10 is not judged', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const oneNode = await testVhost(t);
  await mirroredQueues(oneNode, 12, () => 0);
  const bad = await checkAndStart(ctx, oneNode);
  const lb = checkOf(bad.report, 'leader_balance');
  assert.equal(lb.status, 'failed');
  assert.equal(bad.refusal?.reason, 'Queue leaders are imbalanced. Re-balance queue leaders before migration.');
  assert.deepEqual(lb.details?.distribution, { [cluster.nodeNames[0]]: 12, [cluster.nodeNames[1]]: 0, [cluster.nodeNames[2]]: 0 });
  assert.deepEqual(lb.details?.nodes_without_masters, [cluster.nodeNames[1], cluster.nodeNames[2]]);

  const skewed = await testVhost(t);
  await mirroredQueues(skewed, 15, (i) => (i < 7 ? 0 : i < 11 ? 1 : 2));
  const sk = await checkAndStart(ctx, skewed);
  assert.equal(checkOf(sk.report, 'leader_balance').status, 'failed');
  assert.equal(checkOf(sk.report, 'leader_balance').details?.imbalance_ratio, 1.75);

  const even = await testVhost(t);
  await mirroredQueues(even, 12, (i) => i % 3);
  const good = await checkAndStart(ctx, even);
  assert.equal(checkOf(good.report, 'leader_balance').status, 'passed');
  assert.equal(checkOf(good.report, 'leader_balance').details?.imbalance_ratio, 1);
  assert.equal(good.refusal, null);

  const few = await testVhost(t);
  await mirroredQueues(few, 9, () => 0);
  const notJudged = await checkAndStart(ctx, few);
  assert.match(checkOf(notJudged.report, 'leader_balance').message, /not judged: only 9 mirrored queue/);
  assert.equal(notJudged.refusal, null);
});

test('active_alarms: a real disk alarm on one node fails the check and start refuses; cleared, it passes', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const vhost = await testVhost(t);
  await mirroredQueues(vhost, 3, (i) => i % 3);
  const alarmed = cluster.nodeNames[2];
  const restore = async () => {
    await rabbitmqctl(2, 'set_disk_free_limit', '50MB');
    await waitFor('disk alarm cleared', async () => !(await admin().nodes()).some((n) => n.disk_free_alarm));
  };
  t.after(restore);
  try {
    await rabbitmqctl(2, 'set_disk_free_limit', '1000GB');
    await waitFor('disk alarm on', async () => (await admin().nodes()).find((n) => n.name === alarmed)?.disk_free_alarm);
    const bad = await checkAndStart(ctx, vhost);
    const alarms = checkOf(bad.report, 'active_alarms');
    assert.equal(alarms.status, 'failed');
    assert.deepEqual(alarms.details?.alarms, [{ node: alarmed, alarm: 'disk' }]);
    assert.equal(bad.refusal?.reason, alarms.message);
    assert.match(alarms.message, new RegExp(`disk alarm on ${alarmed}`));
    // 1000 GB of alarm limit leaves no room at all on that node either
    assert.equal(checkOf(bad.report, 'disk_space').status, 'failed');
    assert.match(checkOf(bad.report, 'disk_space').message, /^Insufficient disk space for migration\. Required: 500MB, Available: 0MB$/);
  } finally {
    await restore(); // keep the alarm window short for everyone sharing the cluster
  }
  const good = await checkAndStart(ctx, vhost);
  assert.equal(checkOf(good.report, 'active_alarms').status, 'passed');
  assert.equal(checkOf(good.report, 'disk_space').status, 'passed');
  assert.equal(good.refusal, null);
});

test('memory_usage and disk_space judge the real node numbers against the configured thresholds', async (t) => {
  const vhost = await testVhost(t);
  await mirroredQueues(vhost, 2, (i) => i % 3);
  await publish(vhost, { queue: 'q-00' }, 100);
  await waitForQueues(vhost, ['q-00'], (q) => (q.message_bytes ?? 0) > 0);

  const tightMemory = await checkAndStart(sidecarContext(t, { ...WARN_ONLY, QMIG_MEMORY_THRESHOLD: '0.01' }), vhost);
  const mem = checkOf(tightMemory.report, 'memory_usage');
  assert.equal(mem.status, 'failed');
  assert.match(mem.message, /^Memory usage above 1% of the limit: /);
  assert.equal(tightMemory.refusal?.reason, mem.message);
  const nodes = mem.details?.nodes as Array<{ usage_ratio: number }>;
  assert.equal(nodes.length, 3);
  assert.ok(nodes.every((n) => n.usage_ratio > 0.01 && n.usage_ratio < 0.8));

  const hugeMargin = await checkAndStart(sidecarContext(t, { ...WARN_ONLY, QMIG_DISK_MARGIN_MB: '10000000' }), vhost);
  const disk = checkOf(hugeMargin.report, 'disk_space');
  assert.equal(disk.status, 'failed');
  const messageBytes = disk.details?.message_bytes as number;
  assert.ok(messageBytes > 0);
  const requiredMb = Math.ceil((messageBytes * 2 + 10_000_000 * 1048576) / 1048576);
  const availableMb = disk.details?.available_mb as number;
  assert.equal(disk.message, `Insufficient disk space for migration. Required: ${requiredMb}MB, Available: ${availableMb}MB`);
  assert.deepEqual(hugeMargin.refusal?.body(), { error: 'bad_request', reason: disk.message });

  const defaults = await checkAndStart(sidecarContext(t, WARN_ONLY), vhost);
  assert.equal(checkOf(defaults.report, 'memory_usage').status, 'passed');
  assert.equal(checkOf(defaults.report, 'disk_space').status, 'passed');
  assert.equal(defaults.refusal, null);
});

test('no eligible queue: an empty vhost is not ready; queue_names naming only unknown queues is refused', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const empty = await testVhost(t);
  await admin().declareQueue(empty, 'not-mirrored', { durable: true });
  const none = await checkAndStart(ctx, empty);
  assert.equal(none.report.overall_ready, false);
  assert.deepEqual(none.refusal?.body(), { error: 'bad_request', reason: 'No eligible queues found for migration', vhost: empty });

  const vhost = await testVhost(t);
  await mirroredQueues(vhost, 2, (i) => i % 3);
  await assert.rejects(
    assessStart(ctx, vhost, startOptions({ skip_unsuitable_queues: false, allow_message_ttl: false }, { queue_names: ['ghost-1', 'ghost-2'] })),
    (err: unknown) =>
      err instanceof BadRequestError &&
      /^No eligible queues found for migration: none of the requested queue_names can be migrated \(not found: ghost-1, ghost-2\)/.test(err.reason),
  );
  const mixed = await assessStart(ctx, vhost, startOptions({ skip_unsuitable_queues: false, allow_message_ttl: false }, { queue_names: ['q-01', 'ghost'] }));
  assert.deepEqual(
    mixed.toMigrate.map((q) => q.name),
    ['q-01'],
  );
  assert.deepEqual(mixed.skipped, [{ name: 'ghost', reason: 'queue does not exist' }]);
});

test('check/all: one report per vhost, schema-valid; ready when every vhost with mirrored queues is ready', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const ready = await testVhost(t, { suffix: '/über&co' });
  await mirroredQueues(ready, 2, (i) => i % 3);
  const empty = await testVhost(t);
  // Only our own vhosts: the probe declares a throw-away queue in every vhost it checks.
  const mine = (names: string[]) => (vh: string) => names.includes(vh);
  const opts = { skip_unsuitable_queues: false, allow_message_ttl: false };

  const all = await runCheckAll(ctx, opts, mine([ready, empty]));
  assertSchema('check-all-response', all);
  assert.deepEqual(all.vhosts.map((r) => r.vhost).sort(), [ready, empty].sort());
  const r = all.vhosts.find((x) => x.vhost === ready);
  assert.equal(r?.overall_ready, true);
  assert.equal(r?.queue_checks.summary.total_queues, 2);
  assert.equal(all.vhosts.find((x) => x.vhost === empty)?.overall_ready, false); // nothing to migrate there
  assert.equal(all.overall_ready, true, 'a vhost without mirrored queues does not make check/all not-ready');

  const unsuitable = await testVhost(t);
  await mirrorPolicy(unsuitable);
  await admin().declareQueue(unsuitable, 'ttl', { durable: true, arguments: { 'x-message-ttl': 1000 } });
  await waitForQueues(unsuitable, ['ttl'], mirroredNow);
  const withBad = await runCheckAll(ctx, opts, mine([ready, empty, unsuitable]));
  assertSchema('check-all-response', withBad);
  assert.equal(withBad.overall_ready, false);
  assert.equal(withBad.vhosts.length, 3);
  assert.ok(await admin().vhost(ready), enc(ready));
});
