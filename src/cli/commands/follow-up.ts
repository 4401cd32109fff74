/**
 * Runs over the queues of an ended migration, each followed like a migration (its own id):
 * - `qmig undo ID|latest|PREFIX [--queue Q …] [--tolerance P] [--reason TEXT] [--watch]`:
 *   POST /rollback/:id — the migration's quorum queues (or the named ones) back to mirrored classic;
 * - `qmig repair ID|latest|PREFIX [--queue Q …] [--reason TEXT] [--watch]`:
 *   POST /repair/:id — its failed queues finished forward from what the broker shows.
 * Exit 0 when started (with --watch: when it completed), 1 when refused (400/403/404/409) or it
 * ended otherwise.
 */
import { EXIT } from '../exit-codes.js';
import { flag, listValue, parseNumber, stringValue, type OptionSpec } from '../args.js';
import { resolveMigrationHandle } from '../handles.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';
import { INTERVAL_OPTION, intervalMs, watchMigration } from './watch.js';

interface FollowUpSpec {
  name: string;
  route: 'rollback' | 'repair';
  what: string;
  summary: string;
  description: string;
  queueHelp: string;
  tolerance: boolean;
}

function followUpCommand(spec: FollowUpSpec) {
  const options: Record<string, OptionSpec> = {
    queue: { type: 'string', multiple: true, value: 'Q', description: spec.queueHelp },
    ...(spec.tolerance
      ? { tolerance: { type: 'string', value: 'P', description: "accepted message count difference in percent, 0 to 100 (default: the migration's)" } }
      : {}),
    reason: { type: 'string', value: 'TEXT', description: 'why (written to the audit log)' },
    watch: { type: 'boolean', description: `follow the ${spec.what} to its end (exit code by its final status)` },
    ...INTERVAL_OPTION,
  };
  return remoteCommand({
    name: spec.name,
    summary: spec.summary,
    synopsis: `ID | latest | PREFIX [--queue Q …]${spec.tolerance ? ' [--tolerance P]' : ''} [--reason TEXT] [--watch]`,
    description: spec.description,
    options,
    positionals: { names: ['ID'], required: 1 },
    async run(ctx) {
      const v = ctx.values;
      const body: Record<string, unknown> = {};
      const queues = listValue(v, 'queue');
      if (queues.length > 0) body.queue_names = queues;
      const tolerance = spec.tolerance ? stringValue(v, 'tolerance') : undefined;
      if (tolerance !== undefined) body.tolerance = parseNumber('tolerance', tolerance, 0, 100);
      const reason = stringValue(v, 'reason');
      if (reason !== undefined) body.reason = reason;
      const every = intervalMs(ctx);
      const id = await resolveMigrationHandle(ctx, ctx.positionals[0]);
      const res = await ctx.client().post<{ migration_id: string; status: 'started' }>(`/${spec.route}/${encodeURIComponent(id)}`, body);
      if (res.status !== 200) return ctx.fail(res);
      const runId = res.body.migration_id;
      if (ctx.json) printJson(ctx.io.stdout, res.body, flag(v, 'watch'));
      else println(ctx.io.stdout, `${spec.what} of ${id} started: ${runId}${flag(v, 'watch') ? '' : `\nfollow it with: qmig watch ${runId}`}`);
      if (!flag(v, 'watch')) return EXIT.ok;
      return watchMigration(ctx, runId, every);
    },
  });
}

export const undoCommand = followUpCommand({
  name: 'undo',
  route: 'rollback',
  what: 'rollback',
  summary: 'roll a migration back: its quorum queues become mirrored classic queues again (no snapshot needed)',
  description:
    'Rolls back a completed, failed, interrupted or rollback_pending migration (POST /api/queue-migration/rollback/:id):\n' +
    'every queue it changed (or the --queue ones) is moved back into a mirrored classic queue declared as it was,\n' +
    'with the same fencing and verification as the migration. The rollback has its own id: follow it with `qmig watch`.',
  queueHelp: 'roll back only this queue (repeatable)',
  tolerance: true,
});

export const repairCommand = followUpCommand({
  name: 'repair',
  route: 'repair',
  what: 'repair',
  summary: "finish a migration's failed queues forward, from what the broker shows",
  description:
    'Finishes the failed queues of a migration (POST /api/queue-migration/repair/:id): each is counted again and\n' +
    'taken on from wherever its messages are (classic queue, temporary queue, quorum queue) to a verified quorum queue.\n' +
    'To undo them instead: `qmig undo ID`. The repair has its own id: follow it with `qmig watch`.',
  queueHelp: 'repair only this failed queue (repeatable)',
  tolerance: false,
});
