/**
 * Realistic migration records written straight into the broker-held store (as the engine would),
 * for tests of the read side and of the routes that change a record. Deleted after the test.
 */
import type { Context } from '../../src/context.js';
import { displayId, newMigrationId } from '../../src/state/migration-id.js';
import { ACTIVE_STATUSES, timestamp, type MigrationRecord, type QueueRecord } from '../../src/state/records.js';

export function migrationRecord(vhost: string, node: string, over: Partial<MigrationRecord> = {}): MigrationRecord {
  const now = over.started_at ? new Date(over.started_at.replace(' ', 'T') + 'Z') : new Date();
  const started = timestamp(now);
  const finished = over.status && !['pending', 'in_progress'].includes(over.status);
  return {
    id: newMigrationId(node, now),
    display_id: displayId(vhost, started, node),
    vhost,
    node,
    started_at: started,
    completed_at: finished ? started : null,
    total_queues: 3,
    completed_queues: 2,
    skipped_queues: 1,
    failed_queues: 0,
    status: 'in_progress',
    skip_unsuitable_queues: true,
    tolerance: null,
    error: null,
    snapshots: [{ node, snapshot_id: `/var/lib/qmig/snapshots/${node}.tar`, volume_id: `/var/lib/qmig/snapshots/${node}.tar` }],
    options: {
      skip_unsuitable_queues: true,
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
    updated_at: started,
    ...over,
  };
}

export function queueRecords(vhost: string, n: number): QueueRecord[] {
  const started = timestamp();
  return Array.from({ length: n }, (_, i): QueueRecord => ({
    name: `q-${String(i).padStart(5, '0')}`,
    vhost,
    status: i === 0 ? 'skipped' : i % 2 ? 'completed' : 'in_progress',
    started_at: i === 0 ? null : started,
    completed_at: i % 2 ? started : null,
    total_messages: 100 + i,
    migrated_messages: i % 2 ? 100 + i : 50,
    error: i === 0 ? 'queue has a message TTL' : null,
    phase: i % 2 ? 'done' : 'move_to_temporary',
    location: i % 2 ? 'quorum' : 'temporary',
    original: null,
    detail: {},
  }));
}

/**
 * Writes the record and its queues into the store; removes them after the test. Only FINISHED
 * records may be stored: an active one in the shared cluster is an orphan that any sidecar's
 * engine would resume. Use `liveMigration` for a running one.
 */
export async function storeMigration(
  t: { after(fn: () => unknown): void },
  ctx: Context,
  record: MigrationRecord,
  queues: QueueRecord[],
): Promise<MigrationRecord> {
  if (ACTIVE_STATUSES.includes(record.status)) throw new Error(`storeMigration: a ${record.status} record would be resumed as an orphan; use liveMigration`);
  t.after(() => ctx.store.delete(record).catch(() => undefined));
  await ctx.store.create(record, queues);
  return record;
}

/** A running migration as this sidecar's engine holds it (in memory only, never in the broker). */
export function liveMigration(t: { after(fn: () => unknown): void }, ctx: Context, record: MigrationRecord, queues: QueueRecord[]): MigrationRecord {
  ctx.live.add({ record, queues });
  t.after(() => ctx.live.remove(record.id));
  return record;
}
