/**
 * The end of a repair run: the migration's queues it finished become `completed` (with
 * `repaired_by`), its counters are recounted, and once no failed queue is left a
 * rollback_pending migration is `completed` (status.ts markMigrationRepaired).
 */
import type { Context } from '../context.js';
import { describeError } from '../broker/error-description.js';
import type { Logger } from '../logging.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { repairCandidates } from './repair-plan.js';
import { MigrationStateWriter } from './state-writer.js';
import { markMigrationRepaired, markQueueRepaired, recount } from './status.js';

export async function recordRepairOutcome(ctx: Context, repair: MigrationRecord, queues: QueueRecord[], log: Logger): Promise<void> {
  const migrationId = repair.repair_of;
  if (!migrationId) return;
  const done = queues.filter((q) => q.status === 'completed');
  try {
    const migration = await ctx.store.loadRecord(migrationId);
    const migrationQueues = migration ? await ctx.store.loadAllQueues(migration) : null;
    if (!migration || !migrationQueues) {
      repair.notes.push(`migration ${migrationId} could not be read back: its queues are not marked repaired`);
      return;
    }
    const byName = new Map(migrationQueues.map((q) => [q.name, q]));
    for (const q of done) {
      const mq = byName.get(q.name);
      if (mq && mq.status === 'failed') markQueueRepaired(mq, repair.id);
    }
    recount(migration, migrationQueues);
    if (repairCandidates(migrationQueues).length === 0) markMigrationRepaired(migration, repair.id);
    else migration.notes.push(`${done.length} failed queue(s) finished by the repair ${repair.id}`);
    await new MigrationStateWriter(ctx.store, migration, migrationQueues).saveAll();
  } catch (err) {
    log.error('cannot mark the repaired migration', { repair_of: migrationId, error: describeError(err) });
    repair.notes.push(`migration ${migrationId} could not be marked repaired: ${describeError(err)}`);
  }
}
