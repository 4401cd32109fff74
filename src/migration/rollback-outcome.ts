/**
 * The end of a rollback run, after its queues: say whether each classic queue is mirrored again
 * (qmig never changes policies: the policy that mirrored it applies again unless someone removed
 * or changed it), and mark the migration it undid — its queues taken back become
 * `rollback_completed`, and the migration itself once every queue it changed is.
 */
import type { Context } from '../context.js';
import type { ManagementClient } from '../broker/management-client.js';
import { describeError } from '../broker/error-description.js';
import { classicQueuePolicy, mirrors } from '../broker/policy-match.js';
import type { Logger } from '../logging.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { rollbackCandidates } from './rollback-plan.js';
import { MigrationStateWriter } from './state-writer.js';
import { markMigrationRolledBack, markQueueRolledBack } from './status.js';

/** A rollback queue whose classic queue is in place: rolled back now, or found already classic. */
const isBackToClassic = (q: QueueRecord): boolean => q.status === 'completed' || (q.status === 'skipped' && q.error === 'already a classic queue');

export async function recordRollbackOutcome(
  ctx: Context,
  mgmt: ManagementClient,
  rollback: MigrationRecord,
  queues: QueueRecord[],
  log: Logger,
): Promise<void> {
  const back = queues.filter(isBackToClassic);
  try {
    const policies = await mgmt.policies(rollback.vhost);
    const unmirrored: string[] = [];
    for (const q of back) {
      const p = classicQueuePolicy(q.name, policies);
      q.detail.mirroring_policy = { policy: p?.name ?? null, mirrored: mirrors(p) };
      if (!mirrors(p)) unmirrored.push(q.name);
    }
    const used = [...new Set(back.map((q) => q.detail.mirroring_policy?.policy).filter((p): p is string => !!p && back.length > 0))];
    if (unmirrored.length > 0) {
      rollback.notes.push(
        `${unmirrored.length} rolled-back queue(s) are classic but no mirroring policy applies to them now (qmig never changes policies: the one that mirrored them was removed or changed): ${unmirrored.slice(0, 20).join(', ')}${unmirrored.length > 20 ? ', …' : ''}`,
      );
    } else if (back.length > 0) {
      rollback.notes.push(`every rolled-back queue is mirrored again by the policy that mirrored it before (${used.join(', ')})`);
    }
  } catch (err) {
    rollback.notes.push(`could not read the vhost's policies to confirm the mirroring: ${describeError(err)}`);
  }
  const migrationId = rollback.rollback_of;
  if (!migrationId) return;
  try {
    const migration = await ctx.store.loadRecord(migrationId);
    const migrationQueues = migration ? await ctx.store.loadAllQueues(migration) : null;
    if (!migration || !migrationQueues) {
      rollback.notes.push(`migration ${migrationId} could not be read back: its queues are not marked rolled back`);
      return;
    }
    const byName = new Map(migrationQueues.map((q) => [q.name, q]));
    for (const q of back) {
      const mq = byName.get(q.name);
      if (mq && mq.status !== 'rollback_completed') markQueueRolledBack(mq, rollback.id);
    }
    if (rollbackCandidates(migrationQueues).length === 0) markMigrationRolledBack(migration, rollback.id);
    else migration.notes.push(`${back.length} queue(s) rolled back by ${rollback.id}`);
    await new MigrationStateWriter(ctx.store, migration, migrationQueues).saveAll();
  } catch (err) {
    log.error('cannot mark the rolled-back migration', { rollback_of: migrationId, error: describeError(err) });
    rollback.notes.push(`migration ${migrationId} could not be marked rolled back: ${describeError(err)}`);
  }
}
