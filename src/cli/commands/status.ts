/**
 * `qmig status [ID]`: the migrations (GET /status), or one migration with its queues
 * (GET /status/:id). Exit 0 when the sidecar answered, 1 for an unknown id.
 */
import type { StatusDetail, StatusList } from '../api-types.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import { colorStatus, formatTime } from '../presentation.js';
import { remoteCommand } from '../remote-command.js';
import { resolveMigrationHandle } from '../handles.js';

export function renderStatusList(out: OutStream, list: StatusList): void {
  println(out, `migrations: ${list.status === 'in_progress' ? 'one in progress' : 'none running'}`);
  if (list.migrations.length === 0) {
    println(out, '(no migrations)');
    return;
  }
  println(
    out,
    table(
      ['STATUS', 'PROGRESS', 'QUEUES', 'VHOST', 'STARTED', 'COMPLETED', 'ID'],
      list.migrations.map((m) => [
        colorStatus(m.status),
        `${m.progress_percentage}%`,
        `${m.completed_queues}/${m.total_queues}${m.skipped_queues ? ` (${m.skipped_queues} skipped)` : ''}`,
        printable(m.vhost),
        formatTime(m.started_at),
        formatTime(m.completed_at),
        m.id,
      ]),
    ),
  );
}

export function renderStatusDetail(out: OutStream, detail: StatusDetail): void {
  const m = detail.migration;
  const lines: Array<[string, string | number | null | undefined]> = [
    ['migration', m.id],
    ['display id', printable(m.display_id)],
    ['vhost', printable(m.vhost)],
    ['node', m.node],
    ['status', colorStatus(m.status)],
    [
      'progress',
      `${m.progress_percentage}% (${m.completed_queues}/${m.total_queues} queues, ${m.skipped_queues} skipped${m.failed_queues ? `, ${m.failed_queues} failed` : ''})`,
    ],
    ['started', formatTime(m.started_at)],
    ['opens at', m.not_before],
    ['waiting', m.waiting_reason === undefined ? undefined : printable(m.waiting_reason)],
    ['completed', formatTime(m.completed_at)],
    ...(m.estimate
      ? ([
          [
            'estimate',
            `${m.estimate.seconds} s (range ${m.estimate.low_seconds}-${m.estimate.high_seconds} s)${m.actual_seconds !== undefined ? `, actual ${m.completed_at ? '' : 'so far '}${m.actual_seconds} s` : ''}`,
          ],
        ] as [string, string][])
      : []),
    ['skip unsuitable', String(m.skip_unsuitable_queues)],
    ['tolerance', m.tolerance === null ? 'exact' : `${m.tolerance}%`],
    ['error', m.error === null ? null : printable(m.error)],
  ];
  for (const [k, v] of lines) if (v !== undefined) println(out, `${(k + ':').padEnd(17)}${v ?? '-'}`);
  for (const note of m.notes ?? []) println(out, `${'note:'.padEnd(17)}${printable(note)}`);
  println(out);
  if (detail.queues.length === 0) {
    println(out, '(no queues)');
    return;
  }
  println(
    out,
    table(
      ['QUEUE', 'STATUS', 'MESSAGES', 'PROGRESS', 'STARTED', 'COMPLETED', 'ERROR'],
      detail.queues.map((q) => [
        printable(q.resource.name),
        colorStatus(q.status),
        `${q.migrated_messages}/${q.total_messages}${q.expired_messages ? ` (${q.expired_messages} expired)` : ''}`,
        `${q.progress_percentage}%`,
        formatTime(q.started_at),
        formatTime(q.completed_at),
        q.error === null ? '' : printable(q.error),
      ]),
    ),
  );
}

export const statusCommand = remoteCommand({
  name: 'status',
  summary: 'list the migrations, or show one with its queues',
  synopsis: '[ID | latest | PREFIX]',
  description:
    'Without ID: every migration, newest first (GET /api/queue-migration/status).\nWith ID: that migration and each of its queues (GET /api/queue-migration/status/:id);\n`latest` is the most recent migration, a unique prefix of an id (or display id) names it too.',
  options: {},
  positionals: { names: ['ID'], required: 0 },
  async run(ctx) {
    const id = ctx.positionals[0];
    if (id === undefined) {
      const res = await ctx.client().get<StatusList>('/status');
      if (res.status !== 200) return ctx.fail(res);
      if (ctx.json) printJson(ctx.io.stdout, res.body);
      else renderStatusList(ctx.io.stdout, res.body);
      return EXIT.ok;
    }
    const res = await ctx.client().get<StatusDetail>(`/status/${encodeURIComponent(await resolveMigrationHandle(ctx, id))}`);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else renderStatusDetail(ctx.io.stdout, res.body);
    return EXIT.ok;
  },
});
