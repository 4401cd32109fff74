import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkSizeFor, chunkSizeOf, type MigrationStore } from '../state/migration-store.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { CoalescingWriter, MigrationStateWriter } from './state-writer.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('CoalescingWriter: concurrent requests share one follow-up write that starts after them', async () => {
  let value = 0;
  const written: number[] = [];
  let release: (() => void) | null = null;
  const w = new CoalescingWriter(async () => {
    const snapshot = value; // serialised when the write starts
    await new Promise<void>((r) => (release = r));
    written.push(snapshot);
  });
  value = 1;
  const first = w.request();
  value = 2;
  const second = w.request();
  value = 3;
  const third = w.request();
  assert.equal(second, third, 'requests made while one write waits share it');
  release!();
  await first;
  await tick();
  release!();
  await Promise.all([second, third]);
  assert.deepEqual(written, [1, 3], 'two writes for three requests; the second carries the newest state');
});

test('CoalescingWriter: a failed write rejects its callers and the next request writes again', async () => {
  let fail = true;
  let calls = 0;
  const w = new CoalescingWriter(async () => {
    calls++;
    if (fail) throw new Error('broker down');
  });
  await assert.rejects(w.request(), /broker down/);
  fail = false;
  await w.request();
  assert.equal(calls, 2);
});

function fakeStore() {
  const chunks: Array<{ chunk: number; names: string[] }> = [];
  const records: string[] = [];
  const store = {
    async saveChunk(_id: string, chunk: number, queues: QueueRecord[]) {
      chunks.push({ chunk, names: queues.slice(chunk * 200, (chunk + 1) * 200).map((q) => `${q.name}:${q.phase}`) });
    },
    async saveRecord(r: MigrationRecord) {
      records.push(r.status);
    },
  } as unknown as MigrationStore;
  return { store, chunks, records };
}

test("MigrationStateWriter: checkpoint writes the queue's chunk; disable stops every write", async () => {
  const { store, chunks, records } = fakeStore();
  const queues = Array.from({ length: 250 }, (_, i) => ({ name: `q${i}`, phase: 'pending' }) as QueueRecord);
  const record = { id: 'm', status: 'in_progress', queue_chunks: 2 } as MigrationRecord;
  const w = new MigrationStateWriter(store, record, queues, 10);
  queues[210].phase = 'save';
  await w.checkpoint(210);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].chunk, 1);
  assert.ok(chunks[0].names.includes('q210:save'));
  await w.saveRecord();
  assert.deepEqual(records, ['in_progress']);
  w.touch(3);
  await w.flush();
  assert.equal(chunks.at(-1)!.chunk, 0);
  w.disable();
  await w.checkpoint(0);
  await w.saveRecord();
  assert.equal(chunks.length, 2);
  assert.equal(records.length, 1);
});

test('chunk sizes: at most 50 chunks a migration, 25 to 200 queues each; old records keep 200', () => {
  assert.equal(chunkSizeFor(1), 25);
  assert.equal(chunkSizeFor(500), 25);
  assert.equal(chunkSizeFor(2000), 40);
  assert.equal(chunkSizeFor(10_000), 200);
  assert.equal(chunkSizeFor(50_000), 200);
  assert.equal(chunkSizeOf({}), 200);
  assert.equal(chunkSizeOf({ queue_chunk_size: 25 }), 25);
});
