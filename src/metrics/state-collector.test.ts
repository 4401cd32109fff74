import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import type { TransferSummary } from '../transfer/transfer-record.js';
import { activeQueueCounts, StateCollector } from './state-collector.js';

const rec = (id: string, status: MigrationRecord['status'], counts: Partial<MigrationRecord> = {}) =>
  ({ id, status, total_queues: 0, completed_queues: 0, skipped_queues: 0, failed_queues: 0, ...counts }) as MigrationRecord;
const q = (status: QueueRecord['status']) => ({ status }) as QueueRecord;

test('queues of active migrations: exact for runs of this process, from counters otherwise', () => {
  const records = [
    rec('live', 'in_progress', { total_queues: 3 }),
    rec('elsewhere', 'in_progress', { total_queues: 10, completed_queues: 4, skipped_queues: 1, failed_queues: 0 }),
    rec('old', 'completed', { total_queues: 7, completed_queues: 7 }),
  ];
  const live = { get: (id: string) => (id === 'live' ? { record: records[0], queues: [q('completed'), q('in_progress'), q('pending')] } : undefined) };
  assert.deepEqual(activeQueueCounts(records, live), { pending: 6, in_progress: 1, completed: 5, failed: 0, skipped: 1, rollback_completed: 0 });
});

test('gauges come from one read per scrape; a failed read keeps the last values and says so', async () => {
  let migrations: MigrationRecord[] | Error = [
    rec('a', 'completed'),
    rec('b', 'rollback_pending'),
    rec('c', 'in_progress', { total_queues: 4, completed_queues: 1 }),
  ];
  let reads = 0;
  const transfers = [
    {
      id: 't',
      status: 'in_progress',
      total_queues: 3,
      completed_queues: 1,
      failed_queues: 0,
      cancelled_queues: 0,
      skipped_queues: 0,
      expected_messages: 90,
      moved_messages: 40,
    } as TransferSummary,
  ];
  const collector = new StateCollector({
    reader: {
      listRecords: async () => {
        reads++;
        if (migrations instanceof Error) throw migrations;
        return migrations;
      },
    },
    live: { get: () => undefined, all: () => [] },
    transfers: { list: async () => transfers },
    cacheMs: 0,
  });
  const text = await collector.registry.metrics();
  assert.equal(reads, 1, 'one read shared by every gauge');
  assert.match(text, /^qmig_migrations\{status="completed"\} 1$/m);
  assert.match(text, /^qmig_migrations\{status="rollback_pending"\} 1$/m);
  assert.match(text, /^qmig_migrations\{status="failed"\} 0$/m);
  assert.match(text, /^qmig_migration_in_progress 1$/m);
  assert.match(text, /^qmig_active_migration_progress_ratio 0.25$/m);
  assert.match(text, /^qmig_migration_queues\{status="pending"\} 3$/m);
  assert.match(text, /^qmig_transfers\{status="in_progress"\} 1$/m);
  assert.match(text, /^qmig_transfer_queues\{status="remaining"\} 2$/m);
  assert.match(text, /^qmig_transfer_messages\{kind="moved"\} 40$/m);
  assert.match(text, /^qmig_state_read_success\{source="migrations"\} 1$/m);

  migrations = new Error('broker down');
  const failed = await collector.registry.metrics();
  assert.match(failed, /^qmig_state_read_success\{source="migrations"\} 0$/m);
  assert.match(failed, /^qmig_state_read_success\{source="transfers"\} 1$/m);
  assert.match(failed, /^qmig_migrations\{status="completed"\} 1$/m, 'the last values stay');
});

test('a migration this process starts is counted at the next scrape, even while the stored read is cached', async () => {
  const running: Array<{ record: MigrationRecord; queues: QueueRecord[] }> = [];
  let reads = 0;
  const collector = new StateCollector({
    reader: { listRecords: async () => (reads++, [rec('old', 'completed')]) },
    live: { get: (id) => running.find((m) => m.record.id === id), all: () => running },
    cacheMs: 60_000,
  });
  assert.match(await collector.registry.metrics(), /^qmig_migration_in_progress 0$/m);
  running.push({ record: rec('new', 'in_progress', { total_queues: 2 }), queues: [q('in_progress'), q('pending')] });
  const text = await collector.registry.metrics();
  assert.equal(reads, 1, 'the stored read is still the cached one');
  assert.match(text, /^qmig_migration_in_progress 1$/m);
  assert.match(text, /^qmig_migrations\{status="in_progress"\} 1$/m);
  assert.match(text, /^qmig_migrations\{status="completed"\} 1$/m);
  assert.match(text, /^qmig_migration_queues\{status="in_progress"\} 1$/m);
});
