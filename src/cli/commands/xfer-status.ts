/**
 * `qmig xfer-status [ID]`: the transfers (GET /xfer), or one transfer with its queues
 * (GET /xfer/:id). Exit 0 when the sidecar answered, 1 for an unknown id.
 */
import { formatTime } from '../presentation.js';
import type { TransferView } from '../api-types.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import type { ProgressFrame } from '../progress-view.js';
import { remoteCommand } from '../remote-command.js';

function selectionText(selection: Record<string, unknown>): string {
  if (Array.isArray(selection.queue_names)) return `queues ${selection.queue_names.map((q) => printable(String(q))).join(', ')}`;
  if (typeof selection.pattern === 'string') return `pattern /${printable(selection.pattern)}/`;
  return 'every queue';
}

export function transferFrame(t: TransferView): ProgressFrame {
  const extras = [
    t.failed_queues ? `${t.failed_queues} failed` : '',
    t.cancelled_queues ? `${t.cancelled_queues} cancelled` : '',
    t.skipped_queues ? `${t.skipped_queues} skipped` : '',
  ].filter(Boolean);
  return {
    title: `transfer ${t.id} of vhost ${t.vhost} to ${t.target}`,
    summary: `${t.status}: ${t.completed_queues}/${t.total_queues} queues done, ${t.moved_messages}/${t.expected_messages} messages${extras.length ? `, ${extras.join(', ')}` : ''}${t.error ? ` - ${t.error}` : ''}`,
    rows: (t.queues ?? []).map((q) => ({ name: q.name, status: q.status, done: q.moved_messages, total: q.expected_messages, error: q.error })),
  };
}

export function renderTransferList(out: OutStream, transfers: TransferView[]): void {
  if (transfers.length === 0) {
    println(out, '(no transfers)');
    return;
  }
  println(
    out,
    table(
      ['STATUS', 'QUEUES', 'MESSAGES', 'VHOST', 'TARGET', 'STARTED', 'ID'],
      transfers.map((t) => [
        t.status,
        `${t.completed_queues}/${t.total_queues}`,
        `${t.moved_messages}/${t.expected_messages}`,
        printable(t.vhost),
        printable(t.target),
        formatTime(t.started_at),
        t.id,
      ]),
    ),
  );
}

export function renderTransfer(out: OutStream, t: TransferView): void {
  const lines: Array<[string, string | null]> = [
    ['transfer', t.id],
    ['status', t.status],
    ['vhost', printable(t.vhost)],
    ['target', `${printable(t.target)} (cluster ${printable(t.target_cluster_name)})`],
    ['selection', selectionText(t.selection)],
    ['reason', printable(t.reason)],
    ['who', printable(t.who)],
    ['queues', `${t.completed_queues}/${t.total_queues} done, ${t.failed_queues} failed, ${t.cancelled_queues} cancelled, ${t.skipped_queues} skipped`],
    ['messages', `${t.moved_messages}/${t.expected_messages} moved`],
    ['started', formatTime(t.started_at)],
    ['completed', formatTime(t.completed_at)],
    ['error', t.error === null ? null : printable(t.error)],
  ];
  for (const [k, v] of lines) println(out, `${(k + ':').padEnd(11)}${v ?? '-'}`);
  for (const note of t.notes) println(out, `${'note:'.padEnd(11)}${printable(note)}`);
  if (t.queues && t.queues.length > 0) {
    println(out);
    println(
      out,
      table(
        ['QUEUE', 'STATUS', 'MOVED', 'LEFT AT SOURCE', 'SOURCE REMOVED', 'ERROR'],
        t.queues.map((q) => [
          printable(q.name),
          q.status,
          `${q.moved_messages}/${q.expected_messages}`,
          q.left_at_source,
          q.source_removed ? 'yes' : 'no',
          q.error === null ? '' : printable(q.error),
        ]),
      ),
    );
  }
}

export const xferStatusCommand = remoteCommand({
  name: 'xfer-status',
  summary: 'list the transfers, or show one with its queues',
  synopsis: '[ID]',
  description:
    'Without ID: every transfer, newest first (GET /api/queue-migration/xfer).\nWith ID: that transfer and each of its queues (GET /api/queue-migration/xfer/:id).',
  options: {},
  positionals: { names: ['ID'], required: 0 },
  async run(ctx) {
    const id = ctx.positionals[0];
    if (id === undefined) {
      const res = await ctx.client().get<{ transfers: TransferView[] }>('/xfer');
      if (res.status !== 200) return ctx.fail(res);
      if (ctx.json) printJson(ctx.io.stdout, res.body);
      else renderTransferList(ctx.io.stdout, res.body.transfers);
      return EXIT.ok;
    }
    const res = await ctx.client().get<TransferView>(`/xfer/${encodeURIComponent(id)}`);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else renderTransfer(ctx.io.stdout, res.body);
    return EXIT.ok;
  },
});
