/**
 * Per-queue issues on the real cluster: each unsuitable kind of queue fails the check (and start
 * refuses with the spec's "Found N queue(s)…" body), skip mode turns them into skipped entries,
 * and fixing them makes the check pass — with check and start agreeing every time.
 * Relaxed checks are downgraded to a warning here (QMIG_RELAXED_CHECKS_WARN_ONLY) so that the
 * per-queue verdict decides; relaxed checks themselves are proven in checks-system.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import { enc } from '../../src/broker/management-client.js';
import { admin, amqpUrl, cluster } from '../support/cluster.js';
import { checkAndStart, checkOf, mirroredNow, waitForQueues } from '../support/checks-agreement.js';
import { sidecarContext } from '../support/checks-context.js';
import { publish } from '../support/messages.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';

const WARN_ONLY = { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' };
const HA = { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' };

async function policy(vhost: string, name: string, pattern: string, definition: Record<string, unknown>, priority: number) {
  await admin().ok('PUT', `/policies/${enc(vhost)}/${enc(name)}`, { pattern, definition, 'apply-to': 'queues', priority });
}

test('suitable mirrored queues: every check passes and start would migrate them all', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost);
  const mgmt = admin();
  for (const name of ['good-1', 'good-2', 'good-3']) await mgmt.declareQueue(vhost, name, { durable: true });
  await publish(vhost, { queue: 'good-2' }, 20);
  await waitForQueues(vhost, ['good-1', 'good-2', 'good-3'], (q) => mirroredNow(q) && (q.synchronised_slave_nodes ?? []).length === 1);

  const { report, refusal, assessment } = await checkAndStart(ctx, vhost);
  assert.equal(refusal, null);
  assert.equal(report.overall_ready, true);
  assert.deepEqual(report.queue_checks.summary, { total_queues: 3, unsuitable_queues: 0, compatibility_percentage: 100, compatible_queues: 3 });
  assert.deepEqual(report.queue_checks.results, []);
  for (const c of report.system_checks.checks) {
    if (c.check_type === 'relaxed_checks_setting') assert.equal(c.status, 'warning');
    else assert.equal(c.status, 'passed', `${c.check_type}: ${c.message}`);
  }
  assert.equal(checkOf(report, 'snapshot_not_in_progress').message, 'No EBS snapshots in progress: snapshot mode is none, no EBS snapshots are used');
  assert.deepEqual(assessment?.toMigrate.map((q) => q.name).sort(), ['good-1', 'good-2', 'good-3']);
  assert.deepEqual(assessment?.skipped, []);
});

test('TTL, expires, overflow, exclusive, non-durable, auto-delete and lost policies: found, refused, skippable, fixable', async (t) => {
  const ctx = sidecarContext(t, WARN_ONLY);
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost, '.*', HA, 'ha');
  // Policies that carry a setting besides mirroring (higher priority than plain "ha").
  await policy(vhost, 'ttl-ha', '^pol-ttl$', { ...HA, 'message-ttl': 60000 }, 5);
  await policy(vhost, 'expires-ha', '^pol-expires$', { ...HA, expires: 3600000 }, 5);
  await policy(vhost, 'overflow-ha', '^pol-overflow$', { ...HA, overflow: 'reject-publish-dlx', 'max-length': 10 }, 5);
  await policy(vhost, 'dlx-ha', '^lost$', { ...HA, 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 5);
  const mgmt = admin();
  // Masters spread over the nodes (4/4/3 with the exclusive queue) so leader balance passes.
  let placed = 0;
  const declare = (name: string, body: { durable: boolean; auto_delete?: boolean; arguments?: Record<string, unknown> }) =>
    mgmt.declareQueue(vhost, name, { ...body, node: cluster.nodeNames[(1 + placed++) % 3] });
  await declare('ok', { durable: true });
  await declare('arg-ttl', { durable: true, arguments: { 'x-message-ttl': 60000 } });
  await declare('arg-expires', { durable: true, arguments: { 'x-expires': 3600000 } });
  await declare('arg-overflow', { durable: true, arguments: { 'x-overflow': 'reject-publish-dlx', 'x-max-length': 10 } });
  await declare('pol-ttl', { durable: true });
  await declare('pol-expires', { durable: true });
  await declare('pol-overflow', { durable: true });
  await declare('transient', { durable: false });
  await declare('auto-del', { durable: true, auto_delete: true });
  await declare('lost', { durable: true });
  const conn = await amqp.connect(amqpUrl(vhost));
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.assertQueue('excl', { exclusive: true, durable: true });
  const all = ['ok', 'arg-ttl', 'arg-expires', 'arg-overflow', 'pol-ttl', 'pol-expires', 'pol-overflow', 'transient', 'auto-del', 'lost', 'excl'];
  await waitForQueues(vhost, all, (q) => mirroredNow(q) && q.policy !== undefined && q.policy !== null);

  // --- fails, start refuses with the spec body ---------------------------------------------
  const bad = await checkAndStart(ctx, vhost);
  const issues = new Map<string, string[]>();
  for (const i of bad.report.queue_checks.results) issues.set(i.queue, [...(issues.get(i.queue) ?? []), i.type]);
  const has = (queue: string, type: string) =>
    assert.ok(issues.get(queue)?.includes(type), `${queue} should have ${type}; has ${issues.get(queue)?.join(', ')}`);
  has('arg-ttl', 'message_ttl');
  has('pol-ttl', 'message_ttl');
  has('arg-expires', 'queue_expires');
  has('pol-expires', 'queue_expires');
  has('arg-overflow', 'unsuitable_overflow');
  has('pol-overflow', 'unsuitable_overflow');
  has('transient', 'non_durable');
  has('excl', 'exclusive');
  has('auto-del', 'auto_delete');
  has('lost', 'policy_would_be_lost');
  // the TTL/expires/overflow policies also hold ha-* keys next to keys that matter
  has('pol-ttl', 'policy_would_be_lost');
  assert.equal(issues.get('ok'), undefined);
  const lost = bad.report.queue_checks.results.find((i) => i.queue === 'lost' && i.type === 'policy_would_be_lost');
  assert.match(lost?.reason ?? '', /dead-letter-exchange="dlx", max-length=1000/);
  assert.equal(bad.report.queue_checks.results.find((i) => i.type === 'auto_delete')?.severity, 'warning');

  const unsuitable = 9; // everything except ok and auto-del (a warning only)
  assert.deepEqual(bad.report.queue_checks.summary, { total_queues: 11, unsuitable_queues: unsuitable, compatibility_percentage: 18, compatible_queues: 2 });
  assert.equal(bad.report.overall_ready, false);
  assert.equal(checkOf(bad.report, 'queue_suitability').status, 'failed');
  assert.deepEqual(bad.refusal?.body(), {
    error: 'bad_request',
    reason: `Found ${unsuitable} queue(s) with issues (too many messages, too many bytes, or unsuitable arguments)`,
    problematic_queue_count: unsuitable,
  });

  // --- allow_message_ttl: TTL alone no longer counts --------------------------------------
  const ttlAllowed = await checkAndStart(ctx, vhost, { allow_message_ttl: true });
  assert.ok(!ttlAllowed.report.queue_checks.results.some((i) => i.type === 'message_ttl'));
  assert.equal(ttlAllowed.report.queue_checks.summary.unsuitable_queues, unsuitable - 1); // arg-ttl is fine now; pol-ttl still loses its policy

  // --- skip mode: ready, the unsuitable ones are skipped with their reasons -----------------
  const skip = await checkAndStart(ctx, vhost, { skip_unsuitable_queues: true });
  assert.equal(skip.report.overall_ready, true);
  assert.equal(checkOf(skip.report, 'queue_suitability').status, 'warning');
  assert.deepEqual(skip.assessment?.toMigrate.map((q) => q.name).sort(), ['auto-del', 'ok']);
  assert.equal(skip.assessment?.skipped.length, unsuitable);
  assert.equal(skip.assessment?.skipped.find((s) => s.name === 'excl')?.reason, 'exclusive');
  assert.match(skip.assessment?.skipped.find((s) => s.name === 'excl')?.detail ?? '', /^exclusive: /);

  // --- fixing them: the check passes --------------------------------------------------------
  // A lower-priority policy with only the settings quorum queues accept keeps them for 'lost'.
  await policy(vhost, 'dlx-qq', '^lost$', { 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 1);
  // … which the broker really applies to a quorum queue of that name (proved on a twin vhost queue).
  const twin = await testVhost(t);
  await policy(twin, 'dlx-ha', '^lost$', { ...HA, 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 5);
  await policy(twin, 'dlx-qq', '^lost$', { 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 1);
  await mgmt.declareQueue(twin, 'lost', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  const [qq] = await waitForQueues(twin, ['lost'], (q) => !!q.policy);
  assert.equal(qq.policy, 'dlx-qq');

  await ch.close();
  await conn.close();
  for (const name of ['arg-ttl', 'arg-expires', 'arg-overflow', 'pol-ttl', 'pol-expires', 'pol-overflow', 'transient']) await mgmt.deleteQueue(vhost, name);
  await waitForQueues(vhost, ['ok', 'auto-del', 'lost']);
  const fixed = await checkAndStart(ctx, vhost);
  assert.equal(fixed.refusal, null);
  assert.deepEqual(fixed.report.queue_checks.summary, { total_queues: 3, unsuitable_queues: 0, compatibility_percentage: 100, compatible_queues: 3 });
  assert.deepEqual(
    fixed.report.queue_checks.results.map((i) => [i.queue, i.type]),
    [['auto-del', 'auto_delete']],
  );
  assert.equal(checkOf(fixed.report, 'queue_suitability').status, 'passed');
});
