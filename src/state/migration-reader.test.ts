import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../context.js';
import { LiveRegistry } from './live-registry.js';
import { MigrationReader } from './migration-reader.js';
import type { MigrationRecord, QueueRecord } from './records.js';

function fakeStore(records: Map<string, MigrationRecord>) {
  const calls = { record: 0, queues: 0, list: 0 };
  let gate: Promise<void> = Promise.resolve();
  const store = {
    calls,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return release;
    },
    async loadRecord(id: string) {
      calls.record++;
      await gate;
      const r = records.get(id);
      return r ? structuredClone(r) : null;
    },
    async loadQueueChunks(r: MigrationRecord) {
      calls.queues++;
      return [{ text: r.status, queues: [{ name: `q-of-${r.status}`, vhost: r.vhost } as QueueRecord] }];
    },
    async listRecords() {
      calls.list++;
      await gate;
      return [...records.values()].map((r) => structuredClone(r));
    },
  };
  return store;
}

const rec = (id: string, status: MigrationRecord['status']) => ({ id, vhost: '/', status, started_at: '2025-01-01 00:00:00' }) as MigrationRecord;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('reads are shared within the TTL, then answered stale while one refresh runs', async () => {
  const records = new Map([['a', rec('a', 'in_progress')]]);
  const store = fakeStore(records);
  const reader = new MigrationReader({ store, live: new LiveRegistry() } as unknown as Context, { storeTtlMs: 30 });
  const [v1, v2] = await Promise.all([reader.get('a'), reader.get('a')]);
  assert.equal(v1, v2, 'one read for concurrent callers');
  assert.equal(store.calls.record, 1);
  assert.equal(await reader.get('a'), v1, 'within the TTL');

  await tick(40);
  records.set('a', rec('a', 'completed'));
  const release = store.hold();
  const stale = await reader.get('a');
  assert.equal(stale, v1, 'expired: the stale view is answered at once');
  await reader.get('a');
  assert.equal(store.calls.record, 2, 'only one refresh runs');
  release();
  await tick(5);
  const fresh = await reader.get('a');
  assert.equal(fresh?.record.status, 'completed');
});

test('a finished migration whose record did not change keeps its view (and what was derived from it)', async () => {
  const records = new Map([['b', rec('b', 'completed')]]);
  const store = fakeStore(records);
  const reader = new MigrationReader({ store, live: new LiveRegistry() } as unknown as Context, { storeTtlMs: 10 });
  const v1 = await reader.get('b');
  await tick(20);
  await reader.get('b'); // triggers the refresh
  await tick(5);
  assert.equal(await reader.get('b'), v1);
  assert.equal(store.calls.queues, 1, 'queues read once');
});

test('invalidate forces a fresh read; live migrations answer from memory; unknown ids are not cached stale', async () => {
  const records = new Map([['c', rec('c', 'rollback_pending')]]);
  const store = fakeStore(records);
  const live = new LiveRegistry();
  const reader = new MigrationReader({ store, live } as unknown as Context, { storeTtlMs: 60_000 });
  assert.equal((await reader.get('c'))?.record.status, 'rollback_pending');
  records.set('c', rec('c', 'rollback_completed'));
  reader.invalidate('c');
  assert.equal((await reader.get('c'))?.record.status, 'rollback_completed');

  const running = rec('d', 'in_progress');
  live.add({ record: running, queues: [] });
  const view = await reader.get('d');
  assert.equal(view?.source, 'live');
  assert.equal(view?.record, running);
  assert.deepEqual((await reader.listRecords()).map((r) => r.id).sort(), ['c', 'd']);

  assert.equal(await reader.get('e'), null);
  records.set('e', rec('e', 'failed'));
  await tick(1);
  assert.equal(await reader.get('e'), null, 'within the TTL a miss is shared');
});
