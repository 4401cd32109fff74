/**
 * `qmig undo ID|latest|PREFIX [--queue Q …] [--tolerance P] [--reason TEXT] [--watch]`:
 * POST /rollback/:id — takes the migration's quorum queues (or the named ones) back to mirrored
 * classic in place, as a run of its own (followed like a migration). Exit 0 when started (with
 * --watch: when it completed), 1 when refused (400/403/404/409) or it ended otherwise.
 */
import { EXIT } from '../exit-codes.js';
import { flag, listValue, parseNumber, stringValue } from '../args.js';
import { resolveMigrationHandle } from '../handles.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';
import { INTERVAL_OPTION, intervalMs, watchMigration } from './watch.js';

interface RollbackResponse {
  migration_id: string;
  status: 'started';
  rollback_of: string;
}

export const undoCommand = remoteCommand({
  name: 'undo',
  summary: 'roll a migration back: its quorum queues become mirrored classic queues again (no snapshot needed)',
  synopsis: 'ID | latest | PREFIX [--queue Q …] [--tolerance P] [--reason TEXT] [--watch]',
  description:
    'Rolls back a completed, failed, interrupted or rollback_pending migration (POST /api/queue-migration/rollback/:id):\n' +
    'every queue it changed (or the --queue ones) is moved back into a mirrored classic queue declared as it was,\n' +
    'with the same fencing and verification as the migration. The rollback has its own id: follow it with `qmig watch`.',
  options: {
    queue: { type: 'string', multiple: true, value: 'Q', description: 'roll back only this queue (repeatable)' },
    tolerance: { type: 'string', value: 'P', description: "accepted message count difference in percent, 0 to 100 (default: the migration's)" },
    reason: { type: 'string', value: 'TEXT', description: 'why (written to the audit log)' },
    watch: { type: 'boolean', description: 'follow the rollback to its end (exit code by its final status)' },
    ...INTERVAL_OPTION,
  },
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const v = ctx.values;
    const body: Record<string, unknown> = {};
    const queues = listValue(v, 'queue');
    if (queues.length > 0) body.queue_names = queues;
    const tolerance = stringValue(v, 'tolerance');
    if (tolerance !== undefined) body.tolerance = parseNumber('tolerance', tolerance, 0, 100);
    const reason = stringValue(v, 'reason');
    if (reason !== undefined) body.reason = reason;
    const every = intervalMs(ctx);
    const id = await resolveMigrationHandle(ctx, ctx.positionals[0]);
    const res = await ctx.client().post<RollbackResponse>(`/rollback/${encodeURIComponent(id)}`, body);
    if (res.status !== 200) return ctx.fail(res);
    const rollbackId = res.body.migration_id;
    if (ctx.json) printJson(ctx.io.stdout, res.body, flag(v, 'watch'));
    else println(ctx.io.stdout, `rollback of ${id} started: ${rollbackId}${flag(v, 'watch') ? '' : `\nfollow it with: qmig watch ${rollbackId}`}`);
    if (!flag(v, 'watch')) return EXIT.ok;
    return watchMigration(ctx, rollbackId, every);
  },
});
