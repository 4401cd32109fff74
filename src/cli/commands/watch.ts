/**
 * `qmig watch ID`: follows a migration until it leaves pending/in_progress, with progress bars
 * per queue on a terminal and plain lines otherwise. Exit 0 when it completed, 1 when it ended
 * failed, interrupted, rollback_pending (or anything else but completed).
 */
import { ACTIVE_MIGRATION, type StatusDetail } from '../api-types.js';
import { parseNumber, stringValue, type OptionTable } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { follow } from '../follow.js';
import { printable, println } from '../output.js';
import type { ProgressFrame } from '../progress-view.js';
import { remoteCommand, type RemoteContext } from '../remote-command.js';
import { resolveMigrationHandle } from '../handles.js';

export function migrationFrame(detail: StatusDetail): ProgressFrame {
  const m = detail.migration;
  const extras = [m.skipped_queues ? `${m.skipped_queues} skipped` : '', m.failed_queues ? `${m.failed_queues} failed` : ''].filter(Boolean);
  return {
    title: `migration ${m.display_id}`,
    summary: `${m.status}: ${m.completed_queues}/${m.total_queues} queues done (${m.progress_percentage}%)${extras.length ? `, ${extras.join(', ')}` : ''}${m.error ? ` - ${m.error}` : ''}`,
    rows: detail.queues.map((q) => ({ name: q.resource.name, status: q.status, done: q.migrated_messages, total: q.total_messages, error: q.error })),
  };
}

export const INTERVAL_OPTION: OptionTable = {
  interval: { type: 'string', value: 'SECONDS', description: 'seconds between polls (default 2)' },
};

export function intervalMs(ctx: RemoteContext): number {
  const raw = stringValue(ctx.values, 'interval');
  return raw === undefined ? 2000 : Math.round(parseNumber('interval', raw, 0.1, 3600) * 1000);
}

/** Follows migration `id` to its end; resolves to the exit code. */
export async function watchMigration(ctx: RemoteContext, id: string, everyMs: number): Promise<number> {
  const result = await follow<StatusDetail>(ctx, {
    path: `/status/${encodeURIComponent(id)}`,
    intervalMs: everyMs,
    frame: migrationFrame,
    // A scheduled run is watched until it has opened and ended.
    active: (d) => ACTIVE_MIGRATION.includes(d.migration.status) || d.migration.status === 'scheduled',
    stopHint: `the migration goes on; follow it again with \`qmig watch ${id}\`, stop it with \`qmig interrupt ${id}\``,
  });
  if (result.kind === 'exit') return result.exitCode;
  const m = result.body.migration;
  const ok = m.status === 'completed';
  if (!ctx.json) {
    const out = ok ? ctx.io.stdout : ctx.io.stderr;
    println(out, `migration ${printable(m.display_id)} ended ${m.status}${m.error ? `: ${printable(m.error)}` : ''}`);
  }
  return ok ? EXIT.ok : EXIT.failed;
}

export const watchCommand = remoteCommand({
  name: 'watch',
  summary: 'follow a migration to its end: exit 0 completed, 1 failed/interrupted/rollback_pending',
  synopsis: 'ID|latest|PREFIX [--interval SECONDS]',
  description:
    'Follows a migration (GET /api/queue-migration/status/:id) until it is no longer pending or in progress:\nprogress bars per queue on a terminal, plain lines otherwise. Ctrl-C stops watching, not the migration.',
  options: INTERVAL_OPTION,
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const every = intervalMs(ctx);
    return watchMigration(ctx, await resolveMigrationHandle(ctx, ctx.positionals[0]), every);
  },
});
