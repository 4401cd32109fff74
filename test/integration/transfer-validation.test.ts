/**
 * What a transfer refuses before it touches anything, against the real clusters: the same cluster
 * as target, credentials the target rejects, an unreachable target, something that is not a
 * management API, a target user without the administrator tag or without permission on an
 * existing target vhost, an unknown vhost here, no selection, a selection that matches nothing.
 * The target password never appears in an answer; nothing is created on the target. Also: a
 * queue whose messages the target refuses (user_id without impersonator) fails clearly and loses
 * nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enc } from '../../src/broker/management-client.js';
import { BadRequestError, ObjectNotFoundError, VhostNotFoundError, type QmigError } from '../../src/errors.js';
import { TransferService } from '../../src/transfer/transfer-service.js';
import { admin, cluster } from '../support/cluster.js';
import { messageCount, publish } from '../support/messages.js';
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

const SECRET = 'Sup3r-Secret-Target-Pw';

test('refused transfers answer clear 4xx errors and create nothing on the target', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx } = sourceContext(t);
  await admin().declareQueue(vhost, 'q1', { durable: true });
  const service = new TransferService(ctx);
  const good = {
    target: targetCluster.managementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'validation',
    vhost,
    everything: true,
  };

  async function refused(body: Record<string, unknown>, match: RegExp, type: new (...a: any[]) => Error = BadRequestError): Promise<void> {
    await assert.rejects(service.start(body, 'guest'), (e: unknown) => {
      assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      const err = e as unknown as QmigError;
      const answer = JSON.stringify(err.body());
      assertSchema('error-response', err.body());
      assert.match(String(err.body().reason), match);
      assert.ok(!answer.includes(SECRET), 'the target password is never echoed');
      return true;
    });
  }

  // The same cluster, through another node of it.
  await refused({ ...good, target: cluster.managementUrls[0] }, /same cluster/);
  await refused({ ...good, target: cluster.managementUrls[0] + '/' }, /same cluster/);
  // Credentials the target rejects: 400, not 401.
  await refused({ ...good, target_password: SECRET }, /target rejected the credentials/);
  await refused({ ...good, target_user: 'nobody-here', target_password: SECRET }, /target rejected the credentials/);
  // Unreachable, and not a management API.
  await refused({ ...good, target: 'http://127.0.0.1:1' }, /unreachable/);
  await refused({ ...good, target: `${targetCluster.managementUrl}/nothing-here` }, /no RabbitMQ management API/);
  // A target user that is not an administrator there.
  const monitor = await targetUser(t, ['monitoring'], SECRET);
  await refused({ ...good, target_user: monitor.user, target_password: SECRET }, /needs the administrator tag on the target/);
  // An administrator without permission on a vhost that already exists on the target.
  const noPerms = await targetUser(t, ['administrator'], SECRET);
  await targetAdmin().putVhost(vhost);
  await refused({ ...good, target_user: noPerms.user, target_password: SECRET }, /needs configure, write and read permission on vhost/);
  await targetAdmin().deleteIfExists(`/vhosts/${enc(vhost)}`);
  // Request-level problems.
  await refused({ ...good, vhost: `${vhost}-missing` }, /does not exist/, VhostNotFoundError);
  const { everything: _e, ...noSelection } = good;
  await refused(noSelection, /"everything": true/);
  await refused({ ...noSelection, pattern: '^nothing-matches$' }, /no queue of vhost .* can be transferred with pattern/);
  await refused({ ...noSelection, pattern: '(' }, /not a valid regular expression/);
  await refused({ ...good, target_pasword: 'typo' }, /unknown field 'target_pasword'/);

  assert.equal(await targetAdmin().vhost(vhost), null, 'nothing was created on the target');
  assert.deepEqual(await service.list().then((l) => l.filter((r) => r.vhost === vhost)), [], 'no transfer was recorded');

  // Unknown and undecodable ids.
  await assert.rejects(service.get('cW1pZ3wxNzAwMDAwMDAwMDAwfG58MDAwMDAwMDAwMDAwMDAwMA'), ObjectNotFoundError);
  await assert.rejects(service.get('not-an-id'), ObjectNotFoundError);
  await assert.rejects(service.cancel('not-an-id', 'guest'), ObjectNotFoundError);
});

test('a target that refuses some messages (user_id, no impersonator tag): the queue fails clearly, nothing is lost', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx, audit } = sourceContext(t, { QMIG_SHOVEL_START_TIMEOUT_SECONDS: '4' });
  await admin().declareQueue(vhost, 'mixed', { durable: true });
  // 20 plain messages, then one carrying user_id 'guest', then 20 more.
  await publish(vhost, { queue: 'mixed' }, [
    ...Array.from({ length: 20 }, (_, i) => ({ body: `plain-${i}` })),
    { body: 'with-user-id', properties: { userId: 'guest' } },
    ...Array.from({ length: 20 }, (_, i) => ({ body: `after-${i}` })),
  ]);
  const original = await fingerprintAt(sourceAmqpUrl(vhost), 'mixed');
  const user = await targetUser(t, ['administrator']);
  const service = new TransferService(ctx, { pollMs: 200 });
  const { transfer_id } = await service.start(
    {
      target: targetCluster.managementUrl,
      target_user: user.user,
      target_password: user.password,
      reason: 'refused messages',
      vhost,
      queue_names: ['mixed'],
      remove_source_queue: true,
    },
    'guest',
  );
  await service.whenFinished(transfer_id);
  const record = await service.get(transfer_id);
  assertSchema('xfer-record', record);
  assert.equal(record.status, 'failed');
  assert.ok(
    record.notes.some((n) => /no impersonator tag/.test(n)),
    JSON.stringify(record.notes),
  );
  const q = record.queues[0];
  assert.equal(q.status, 'failed');
  assert.match(q.error ?? '', /refused \(PRECONDITION_FAILED - user_id property set to 'guest'.*impersonator tag/);
  assert.equal(q.source_removed, false);
  assert.ok(await admin().queue(vhost, 'mixed'), 'the source queue is not removed');
  assert.deepEqual(await ctx.mgmt.shovelParameters(vhost), [], 'the failing shovel was deleted');
  const atSource = await messageCount(vhost, 'mixed');
  const atTarget = await countAt(targetAmqpUrl(vhost, user.user, user.password), 'mixed');
  t.diagnostic(`refused message: ${atSource} at the source, ${atTarget} at the target`);
  const atSourceNow = await fingerprintAt(sourceAmqpUrl(vhost), 'mixed');
  const atTargetNow = await fingerprintAt(targetAmqpUrl(vhost, user.user, user.password), 'mixed');
  // Nothing lost: every original message is on one side; the refused one is still at the source.
  const union = new Set([...atSourceNow, ...atTargetNow]);
  assert.deepEqual(
    original.filter((f) => !union.has(f)),
    [],
  );
  const refusedOne = original.filter((f) => f.includes('"userId":"guest"'));
  assert.equal(refusedOne.length, 1);
  assert.ok(atSourceNow.includes(refusedOne[0]) && !atTargetNow.includes(refusedOne[0]));
  // The target holds only copies of original messages; copies beyond one each are the
  // at-least-once window of the refused shovel (the target took them, the source never saw them acked).
  assert.ok(atTargetNow.every((f) => original.includes(f)));
  assert.ok(atTarget >= 1 && atTarget <= 41 + 1000, `${atTarget} at the target`);
  assert.ok(atSource >= 21, 'the refused message and every one after it stay at the source');
  const entry = audit().find((a) => a.action === 'xfer_queue' && a.migration_id === transfer_id);
  assert.equal(entry?.details.status, 'failed');
  assert.equal(entry?.details.reason, 'refused messages');
  assert.equal(entry?.details.moved_messages, atTarget);
});
