import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSchema } from '../../test/support/schemas.js';
import { displayId, newMigrationId } from '../state/migration-id.js';
import { presentMigration, presentMigrationDetail, presentQueue } from './presenters.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';

function record(over: Partial<MigrationRecord> = {}): MigrationRecord {
  const started = '2025-12-21 10:30:00';
  return {
    id: newMigrationId('rabbit@node1'),
    display_id: displayId('/', started, 'rabbit@node1'),
    vhost: '/',
    node: 'rabbit@node1',
    started_at: started,
    completed_at: null,
    total_queues: 10,
    completed_queues: 4,
    skipped_queues: 1,
    failed_queues: 0,
    status: 'in_progress',
    skip_unsuitable_queues: true,
    tolerance: 10,
    error: null,
    snapshots: [{ node: 'rabbit@node1', snapshot_id: 'snap-1', volume_id: 'vol-1' }],
    options: {
      skip_unsuitable_queues: true,
      tolerance: 10,
      batch_size: 'all',
      batch_order: 'smallest_first',
      queue_names: null,
      allow_message_ttl: false,
      set_default_queue_type: null,
    },
    owner: 'x',
    queue_chunks: 1,
    interrupt_requested: false,
    notes: [],
    engine: { secret: 'internal' },
    updated_at: started,
    ...over,
  };
}

test('a migration record becomes the spec shape, without internal fields', () => {
  const view = presentMigration(record());
  assertSchema('migration-record', view);
  assert.equal(view.progress_percentage, 50);
  assert.equal('options' in view || 'owner' in view || 'engine' in view || 'snapshots' in view, false);
  const detail = presentMigrationDetail(record());
  assertSchema('migration-detail', detail);
  assert.deepEqual(detail.snapshots, [{ node: 'rabbit@node1', snapshot_id: 'snap-1', volume_id: 'vol-1' }]);
});

test('a finished migration of zero queues is 100 %, a pending one 0 %', () => {
  assert.equal(presentMigration(record({ total_queues: 0, completed_queues: 0, skipped_queues: 0, status: 'completed' })).progress_percentage, 100);
  assert.equal(presentMigration(record({ total_queues: 0, completed_queues: 0, skipped_queues: 0, status: 'pending' })).progress_percentage, 0);
});

test('a queue record becomes the spec shape with resource and progress', () => {
  const q: QueueRecord = {
    name: 'orders',
    vhost: '/',
    status: 'in_progress',
    started_at: '2025-12-21 10:30:05',
    completed_at: null,
    total_messages: 5000,
    migrated_messages: 2500,
    error: null,
    phase: 'move_to_temporary',
    location: 'temporary',
    original: null,
    detail: { shovel: 'x' },
  };
  const view = presentQueue(q);
  assertSchema('queue-status', view);
  assert.deepEqual(view.resource, { name: 'orders', vhost: '/' });
  assert.equal(view.progress_percentage, 50);
  assert.equal(presentQueue({ ...q, status: 'completed', total_messages: 0, migrated_messages: 0 }).progress_percentage, 100);
});
