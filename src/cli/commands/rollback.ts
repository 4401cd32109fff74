/**
 * Rollback automation from the command line (until now only curl could):
 *   `qmig rollback-pending`: GET /rollback-pending, the newest migration that needs a rollback,
 *     with the snapshots to restore from. Exit 0 when there is one, 1 when there is none.
 *   `qmig rollback-completed ID|latest|PREFIX`: POST /status/:id {"status":"rollback_completed"},
 *     marking a rollback_pending migration done once its rollback is. Exit 0 marked, 1 refused.
 */
import type { MigrationRecordView } from '../api-types.js';
import { EXIT } from '../exit-codes.js';
import { resolveMigrationHandle } from '../handles.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import { colorStatus, formatTime } from '../presentation.js';
import { remoteCommand } from '../remote-command.js';

interface MigrationWithSnapshots extends MigrationRecordView {
  snapshots: Array<{ node: string; snapshot_id: string; volume_id: string }>;
}

export function renderRollbackMigration(out: OutStream, m: MigrationWithSnapshots): void {
  const lines: Array<[string, string | number | null | undefined]> = [
    ['migration', m.id],
    ['display id', printable(m.display_id)],
    ['vhost', printable(m.vhost)],
    ['status', colorStatus(m.status)],
    ['queues', `${m.completed_queues}/${m.total_queues} completed${m.failed_queues ? `, ${m.failed_queues} failed` : ''}`],
    ['started', formatTime(m.started_at)],
    ['completed', formatTime(m.completed_at)],
    ['error', m.error === null ? null : printable(m.error)],
  ];
  for (const [k, v] of lines) println(out, `${(k + ':').padEnd(17)}${v ?? '-'}`);
  println(out);
  if (m.snapshots.length === 0) println(out, '(no snapshots: QMIG_SNAPSHOT_MODE=none)');
  else
    println(
      out,
      table(
        ['NODE', 'SNAPSHOT', 'VOLUME'],
        m.snapshots.map((s) => [printable(s.node), printable(s.snapshot_id), printable(s.volume_id)]),
      ),
    );
}

export const rollbackPendingCommand = remoteCommand({
  name: 'rollback-pending',
  summary: 'the newest migration that needs a rollback, with its snapshots: exit 0 one, 1 none',
  synopsis: '',
  description:
    'Shows the most recent rollback_pending migration and the snapshots to restore from\n(GET /api/queue-migration/rollback-pending). Exit 1 when no migration needs a rollback.\nOnce restored, mark it with `qmig rollback-completed ID`.',
  options: {},
  async run(ctx) {
    const res = await ctx.client().get<MigrationWithSnapshots>('/rollback-pending');
    if (res.status === 404) {
      if (ctx.json) printJson(ctx.io.stdout, res.body);
      else println(ctx.io.stdout, 'no migration is rollback_pending');
      return EXIT.failed;
    }
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else renderRollbackMigration(ctx.io.stdout, res.body);
    return EXIT.ok;
  },
});

export const rollbackCompletedCommand = remoteCommand({
  name: 'rollback-completed',
  summary: 'mark a rollback_pending migration as rolled back (exit 0 marked, 1 refused)',
  synopsis: 'ID | latest | PREFIX',
  description:
    'Marks a rollback_pending migration rollback_completed once its rollback is done\n(POST /api/queue-migration/status/:id {"status":"rollback_completed"}).',
  options: {},
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const id = await resolveMigrationHandle(ctx, ctx.positionals[0]);
    const res = await ctx.client().post<MigrationWithSnapshots>(`/status/${encodeURIComponent(id)}`, { status: 'rollback_completed' });
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else println(ctx.io.stdout, `migration ${printable(res.body.display_id)} marked ${colorStatus(res.body.status)}`);
    return EXIT.ok;
  },
});
