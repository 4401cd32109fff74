/**
 * Cancelling a transfer mid-move, on real clusters: 50,000 messages in one queue, a second queue
 * waiting. The cancel deletes the running shovel; nothing is lost (every original message is on
 * one side or the other), duplicates stay within the shovel's at-least-once window (at most
 * src-prefetch-count messages that the target confirmed but the source had not yet seen acked),
 * the waiting queue never starts, and no source queue is removed although remove_source_queue
 * was asked for. And the cancel of a transfer whose sidecar died.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransferInProgressError } from '../../src/errors.js';
import { ClusterLock } from '../../src/state/cluster-lock.js';
import { TransferService } from '../../src/transfer/transfer-service.js';
import { newQueueRecord, type TransferRecord } from '../../src/transfer/transfer-record.js';
import { newMigrationId } from '../../src/state/migration-id.js';
import { timestamp } from '../../src/state/records.js';
import { admin } from '../support/cluster.js';
import { messageCount, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { testVhost } from '../support/vhost.js';
import {
  cleanupTargetVhost,
  cleanupTransferRecords,
  countAt,
  eventually,
  fingerprintAt,
  sourceAmqpUrl,
  sourceContext,
  targetAdmin,
  targetAmqpUrl,
  targetCluster,
} from './transfer-support.js';
import { TRANSFER_LOCK } from '../../src/broker/names.js';

const TOTAL = 50_000;
const PREFETCH = 1000;

test('cancel mid-transfer: the shovel stops, nothing is lost, duplicates bounded by the prefetch window, nothing half-deleted', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx, audit } = sourceContext(t, { QMIG_TRANSFER_CONCURRENCY: '1', QMIG_TRANSFER_PREFETCH: String(PREFETCH) });
  const src = admin();
  await src.declareQueue(vhost, 'big', { durable: true });
  await src.declareQueue(vhost, 'later', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(vhost, { queue: 'big' }, TOTAL);
  await publish(vhost, { queue: 'later' }, 100);
  const original = await fingerprintAt(sourceAmqpUrl(vhost), 'big');
  assert.equal(original.length, TOTAL);

  const service = new TransferService(ctx, { pollMs: 100 });
  t.after(() => service.shutdown());
  const body = {
    target: targetCluster.managementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'cancel drill',
    vhost,
    queue_names: ['big', 'later'],
    remove_source_queue: true,
  };
  const { transfer_id } = await service.start(body, 'guest');

  // One transfer at a time: a second one is refused while this one runs.
  await assert.rejects(service.start({ ...body, queue_names: ['later'] }, 'guest'), (err: unknown) => {
    assert.ok(err instanceof TransferInProgressError);
    assert.equal(err.body().current_transfer_id, transfer_id);
    return true;
  });

  // Cancel once the move is visibly under way.
  const underWay = await eventually(
    async () => {
      const r = await service.get(transfer_id);
      const big = r.queues.find((q) => q.name === 'big')!;
      return big.status === 'in_progress' && big.moved_messages > 0 ? r : null;
    },
    120_000,
    'the big queue to start moving',
  );
  assertSchema('xfer-record', underWay);
  const cancelled = await service.cancel(transfer_id, 'guest');
  assertSchema('xfer-cancel-response', cancelled);
  assert.deepEqual(cancelled, { transfer_id, status: 'cancelled', cancel_requested: true });
  // Idempotent.
  assert.deepEqual(await service.cancel(transfer_id, 'guest'), cancelled);

  const record = await service.get(transfer_id);
  assertSchema('xfer-record', record);
  assert.equal(record.status, 'cancelled');
  assert.equal(record.cancelled_by, 'guest');
  const big = record.queues.find((q) => q.name === 'big')!;
  const later = record.queues.find((q) => q.name === 'later')!;
  assert.equal(big.status, 'cancelled');
  assert.ok(big.moved_messages > 0 && big.moved_messages < TOTAL, `the cancel landed mid-move (moved ${big.moved_messages})`);
  assert.equal(big.source_removed, false);
  assert.equal(later.status, 'cancelled');
  assert.equal(later.started_at, null, 'no new queue starts after a cancel');

  // Nothing half-deleted: both source queues exist; the waiting one is untouched and was never created on the target.
  assert.ok(await src.queue(vhost, 'big'));
  assert.equal(await messageCount(vhost, 'later'), 100);
  assert.equal(await targetAdmin().queue(vhost, 'later'), null);
  assert.deepEqual(await ctx.mgmt.shovelParameters(vhost), [], 'the shovel is gone');
  assert.deepEqual(
    (await ctx.mgmt.shovels(vhost)).filter((s) => s.vhost === vhost),
    [],
  );

  // Nothing lost; duplicates only within the at-least-once window.
  const atSource = await messageCount(vhost, 'big');
  const atTarget = await countAt(targetAmqpUrl(vhost), 'big');
  assert.equal(big.left_at_source, atSource);
  assert.equal(big.moved_messages, atTarget);
  assert.ok(atSource + atTarget >= TOTAL, `source ${atSource} + target ${atTarget} >= ${TOTAL}`);
  const duplicates = atSource + atTarget - TOTAL;
  assert.ok(duplicates <= PREFETCH, `${duplicates} duplicates, at most the prefetch window ${PREFETCH}`);
  const union = new Map<string, number>();
  for (const f of [...(await fingerprintAt(sourceAmqpUrl(vhost), 'big')), ...(await fingerprintAt(targetAmqpUrl(vhost), 'big'))])
    union.set(f, (union.get(f) ?? 0) + 1);
  const missing = original.filter((f) => !union.has(f));
  assert.equal(missing.length, 0, `every original message is on one side (${missing.length} missing)`);
  assert.equal(
    [...union.values()].reduce((a, b) => a + b, 0),
    atSource + atTarget,
  );

  // Audited with the reason, and the lock is free again.
  const entries = audit().filter((a) => a.migration_id === transfer_id);
  const bigEntry = entries.find((a) => a.action === 'xfer_queue' && a.queue === 'big');
  assert.equal(bigEntry?.details.status, 'cancelled');
  assert.equal(bigEntry?.details.reason, 'cancel drill');
  assert.equal(bigEntry?.details.moved_messages, atTarget);
  assert.ok(entries.some((a) => a.action === 'xfer_cancel_requested' && a.who === 'guest'));
  assert.equal(await ClusterLock.isHeld(ctx.amqp, ctx.config.stateVhost, TRANSFER_LOCK), false);
  t.diagnostic(`cancel: moved ${atTarget}, left ${atSource}, duplicates ${duplicates}`);
});

test('cancel of a transfer whose sidecar died (nobody holds the transfer lock) closes the record from another sidecar', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, audit } = sourceContext(t);
  await admin().declareQueue(vhost, 'moving', { durable: true });
  await publish(vhost, { queue: 'moving' }, 10);
  const service = new TransferService(ctx, { pollMs: 100, cancelWaitMs: 5000 });
  // The record a crashed sidecar left behind: one queue in progress (its shovel already gone), one pending.
  const id = newMigrationId('test2@localhost');
  t.after(() => service.store.delete(id));
  const now = timestamp();
  const orphan: TransferRecord = {
    id,
    vhost,
    target: targetCluster.managementUrl,
    target_amqp: 'amqp://127.0.0.1:6772/x',
    target_cluster_name: 'test-target',
    target_user: 'guest',
    selection: { everything: true },
    remove_source_queue: false,
    reason: 'orphan drill',
    who: 'alice',
    node: 'test2@localhost',
    owner: 'test2@localhost/1/dead',
    status: 'in_progress',
    started_at: now,
    completed_at: null,
    updated_at: now,
    cancel_requested_at: null,
    cancelled_by: null,
    total_queues: 2,
    completed_queues: 0,
    failed_queues: 0,
    cancelled_queues: 0,
    skipped_queues: 0,
    expected_messages: 10,
    moved_messages: 3,
    error: null,
    notes: [],
    queues: [
      {
        ...newQueueRecord('moving'),
        status: 'in_progress',
        started_at: now,
        expected_messages: 10,
        moved_messages: 3,
        shovel: `qmig-xfer-gone-${id.slice(-6)}`,
      },
      newQueueRecord('waiting'),
    ],
  };
  await service.store.save(orphan);

  const result = await service.cancel(id, 'bob');
  assert.deepEqual(result, { transfer_id: id, status: 'cancelled', cancel_requested: true });
  const record = await service.get(id);
  assertSchema('xfer-record', record);
  assert.equal(record.cancelled_by, 'bob');
  assert.deepEqual(
    record.queues.map((q) => q.status),
    ['cancelled', 'cancelled'],
  );
  assert.equal(record.queues[0].left_at_source, 10);
  assert.equal(record.queues[0].shovel, null);
  assert.match(record.queues[0].notes.join(' '), /sidecar running this transfer stopped/);
  assert.equal(await messageCount(vhost, 'moving'), 10, 'the source queue is untouched');
  assert.equal(await service.store.cancelRequest(id), null, 'the cancel request is cleared');
  assert.ok(audit().some((a) => a.action === 'xfer_queue' && a.queue === 'moving' && a.details.reason === 'orphan drill' && a.details.status === 'cancelled'));
  // Idempotent.
  assert.deepEqual(await service.cancel(id, 'bob'), result);
});
