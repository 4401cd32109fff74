/**
 * The broker-held state: migration records as global runtime parameters (chunked queue records)
 * and exclusive-queue locks, on the real cluster.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AmqpPool } from '../../src/broker/amqp.js';
import { ClusterLock, LockHeldError } from '../../src/state/cluster-lock.js';
import { displayId, newMigrationId } from '../../src/state/migration-id.js';
import { chunkOf, chunkSizeOf, MigrationStore } from '../../src/state/migration-store.js';
import { timestamp, type MigrationRecord, type QueueRecord } from '../../src/state/records.js';
import { admin, cluster } from '../support/cluster.js';
import { testVhost } from '../support/vhost.js';
import { testSeal } from '../support/state-secret.js';
import { chunkParameter } from '../../src/broker/names.js';

function record(id: string, vhost: string, startedAt: string, total: number): MigrationRecord {
  return {
    id,
    display_id: displayId(vhost, startedAt, 'n@h'),
    vhost,
    node: 'n@h',
    started_at: startedAt,
    completed_at: null,
    total_queues: total,
    completed_queues: 0,
    skipped_queues: 0,
    failed_queues: 0,
    status: 'in_progress',
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: {
      skip_unsuitable_queues: false,
      tolerance: null,
      batch_size: 'all',
      batch_order: 'smallest_first',
      queue_names: null,
      allow_message_ttl: false,
      set_default_queue_type: null,
    },
    owner: 'test',
    queue_chunks: 0,
    interrupt_requested: false,
    notes: [],
    engine: {},
    updated_at: startedAt,
  };
}

function queue(i: number, vhost: string): QueueRecord {
  return {
    name: `q-${i}`,
    vhost,
    status: 'pending',
    started_at: null,
    completed_at: null,
    total_messages: i,
    migrated_messages: 0,
    error: null,
    phase: 'pending',
    location: 'classic',
    original: null,
    detail: {},
  };
}

test('records and chunked queue records round-trip through the broker', async (t) => {
  const vhost = await testVhost(t);
  const store = new MigrationStore(admin(), testSeal());
  const id = newMigrationId('n@h');
  const rec = record(id, vhost, timestamp(), 405);
  const queues = Array.from({ length: rec.total_queues }, (_, i) => queue(i, vhost));
  t.after(() => store.delete(rec));

  await store.create(rec, queues);
  assert.equal(rec.queue_chunk_size, 25, '405 queues: the smallest chunks (at most 50 chunks a migration)');
  assert.equal(rec.queue_chunks, 17);
  assert.deepEqual(await store.loadRecord(id), rec);
  const loaded = await store.loadQueues(rec);
  assert.equal(loaded.length, queues.length);
  assert.deepEqual(loaded, queues);
  assert.ok((await store.listIds()).includes(id));

  // A change to one queue rewrites only its chunk.
  const size = chunkSizeOf(rec);
  const chunksBefore = await store.loadQueueChunks(rec);
  assert.deepEqual(
    chunksBefore.flatMap((c) => c.queues),
    queues,
  );
  queues[size + 1].status = 'completed';
  queues[size + 1].migrated_messages = 7;
  await store.saveChunk(rec, chunkOf(size + 1, size), queues);
  // Stored sealed: {qmig_seal, mac, data}.
  const chunk1 = (await admin().globalParameter<{ data: QueueRecord[] }>(chunkParameter(id, 1)))?.value.data;
  assert.equal(chunk1?.[1].status, 'completed');
  assert.equal(chunk1?.[1].migrated_messages, 7);
  assert.equal(chunk1?.length, size);
  assert.equal((await store.loadQueues(rec))[size + 1].migrated_messages, 7);
  // A re-read parses only the chunk that changed: the others are the previous objects.
  const chunksAfter = await store.loadQueueChunks(rec, chunksBefore);
  assert.equal(chunksAfter[0], chunksBefore[0]);
  assert.equal(chunksAfter[2], chunksBefore[2]);
  assert.notEqual(chunksAfter[1], chunksBefore[1]);
  assert.equal(chunksAfter[1].queues[1].migrated_messages, 7);

  await store.delete(rec);
  assert.equal(await store.loadRecord(id), null);
  assert.equal(await admin().globalParameter(chunkParameter(id, 0)), null);
});

test('listRecords answers newest first', async (t) => {
  const vhost = await testVhost(t);
  const store = new MigrationStore(admin(), testSeal());
  const older = record(newMigrationId('n@h'), vhost, '2001-01-01 00:00:00', 0);
  const newer = record(newMigrationId('n@h'), vhost, '2001-01-02 00:00:00', 0);
  t.after(async () => {
    await store.delete(older);
    await store.delete(newer);
  });
  await store.create(older, []);
  await store.create(newer, []);
  const mine = (await store.listRecords()).filter((r) => r.vhost === vhost).map((r) => r.id);
  assert.deepEqual(mine, [newer.id, older.id]);
});

test('the exclusive-queue lock admits exactly one holder across nodes and frees itself with its connection', async (t) => {
  const vhost = await testVhost(t);
  const pools = cluster.amqpUrls.map((url) => new AmqpPool({ url, user: cluster.user, password: cluster.password }));
  t.after(() => Promise.all(pools.map((p) => p.close())));
  const name = 'qmig.lock.test';

  // Six contenders on three nodes at once: exactly one wins.
  const results = await Promise.allSettled([...pools, ...pools].map((p) => ClusterLock.acquire(p, vhost, name)));
  const winners = results.filter((r): r is PromiseFulfilledResult<ClusterLock> => r.status === 'fulfilled');
  assert.equal(winners.length, 1);
  for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LockHeldError, String(r.reason));
  assert.equal(await ClusterLock.isHeld(pools[1], vhost, name), true);

  // The holder's connection dying (as when the sidecar is killed) frees the lock.
  const lost = new Promise<void>((resolve) => winners[0].value.onLost(resolve));
  // The connection list is built from sampled stats: wait until the lock's connection shows up.
  let lockConn: { name: string } | undefined;
  for (let i = 0; i < 100 && !lockConn; i++) {
    const conns = await admin().vhostConnections(vhost);
    lockConn = conns.find((c) => (c as { client_properties?: { connection_name?: string } }).client_properties?.connection_name?.includes(name));
    if (!lockConn) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(lockConn, 'the lock has its own named connection');
  await admin().closeConnection(lockConn.name, 'test: simulate a killed sidecar');
  await lost;
  const again = await ClusterLock.acquire(pools[2], vhost, name);
  assert.equal(again.held, true);
  await again.release();
  assert.equal(await ClusterLock.isHeld(pools[0], vhost, name), false);
});
