import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MigrationSnapshot } from '../state/migration-reader.js';
import { presentMigrationDetail, presentQueue } from './presenters.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { DetailBodies, serializeDetail } from './detail-serializer.js';

function view(queues: number, status: MigrationRecord['status'] = 'in_progress'): MigrationSnapshot {
  const record = {
    id: 'id',
    display_id: 'v (t) on n',
    vhost: 'v',
    node: 'n',
    started_at: '2025-01-01 00:00:00',
    completed_at: null,
    total_queues: queues,
    completed_queues: 1,
    skipped_queues: 0,
    failed_queues: 0,
    status,
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: {} as MigrationRecord['options'],
    owner: 'o',
    queue_chunks: 0,
    interrupt_requested: false,
    notes: ['a "quoted" note'],
    engine: {},
    updated_at: '2025-01-01 00:00:00',
  } satisfies MigrationRecord;
  const qs: QueueRecord[] = Array.from({ length: queues }, (_, i) => ({
    name: `q-${i}-ü"\\`,
    vhost: 'v',
    status: i % 2 ? 'completed' : 'pending',
    started_at: null,
    completed_at: null,
    total_messages: i,
    migrated_messages: i % 2 ? i : 0,
    error: null,
    phase: 'done',
    location: 'quorum',
    original: null,
    detail: {},
  }));
  return { record, queues: qs, source: 'store' };
}

const expected = (v: MigrationSnapshot) => ({ migration: presentMigrationDetail(v.record), queues: v.queues.map(presentQueue) });

test('serializeDetail writes in slices exactly what one JSON.stringify would', async () => {
  for (const n of [0, 1, 499, 500, 501, 2501]) {
    const v = view(n);
    assert.deepEqual(JSON.parse((await serializeDetail(v)).toString('utf8')), expected(v), `${n} queues`);
  }
});

test('DetailBodies: one body per view; while a large new view is made the previous body answers; forget() ends that', async () => {
  const bodies = new DetailBodies();
  const small = view(10);
  const b1 = bodies.body('small', small);
  assert.ok(Buffer.isBuffer(b1), 'small views are answered at once');
  assert.equal(bodies.body('small', small), b1);

  const first = view(3000);
  const firstBody = await bodies.body('big', first);
  assert.deepEqual(JSON.parse(firstBody.toString('utf8')), expected(first));
  const second = view(3000, 'completed');
  const meanwhile = bodies.body('big', second);
  assert.equal(meanwhile, firstBody, 'the previous body while the new one is being made');
  // The new body is made in the background: asked again, the view answers it once it is ready.
  let secondBody = firstBody;
  for (let i = 0; i < 400 && secondBody === firstBody; i++) {
    await new Promise((r) => setTimeout(r, 25));
    secondBody = await bodies.body('big', second);
  }
  assert.equal(JSON.parse(secondBody.toString('utf8')).migration.status, 'completed');

  bodies.forget('big');
  const third = view(3000, 'rollback_pending');
  const waited = await bodies.body('big', third);
  assert.equal(JSON.parse(waited.toString('utf8')).migration.status, 'rollback_pending', 'after forget() the caller waits for the new body');
});

test('a stored view made of chunks serializes the same; a chunk shared with the next view keeps its JSON, a changed one is new', async () => {
  const chunked = (v: MigrationSnapshot, size: number): MigrationSnapshot => {
    const chunks = [];
    for (let i = 0; i < v.queues.length; i += size) chunks.push({ text: `t${i}`, queues: v.queues.slice(i, i + size) });
    return { ...v, chunks };
  };
  for (const n of [0, 1, 199, 200, 2501]) {
    const v = chunked(view(n), 200);
    assert.equal((await serializeDetail(v)).toString('utf8'), (await serializeDetail({ ...v, chunks: undefined })).toString('utf8'), `${n} queues`);
  }
  const first = chunked(view(600), 200);
  await serializeDetail(first);
  // The next read: chunk 1 changed (a new object), chunks 0 and 2 shared.
  const changed = first.chunks![1].queues.map((q) => ({ ...q, migrated_messages: q.migrated_messages + 1000 }));
  const next: MigrationSnapshot = { ...first, chunks: [first.chunks![0], { text: 'changed', queues: changed }, first.chunks![2]] };
  next.queues = next.chunks!.flatMap((c) => c.queues);
  assert.deepEqual(JSON.parse((await serializeDetail(next)).toString('utf8')), expected(next));
});
