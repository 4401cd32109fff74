/**
 * `qmig xfer --target URL --target-user U [--target-password P] --reason R
 * (--queue Q…|--pattern P|--everything) [--vhost V] [--remove-source-queue] [--watch]`:
 * POST /xfer. The target password comes from --target-password or QMIG_TARGET_PASSWORD (better:
 * not on the command line) and is never printed. Exit 0 when accepted (with --watch: when the
 * transfer completed), 1 when refused or it ended failed/cancelled.
 */
import { ACTIVE_TRANSFER, type TransferView } from '../api-types.js';
import { flag, listValue, stringValue, UsageError } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { follow } from '../follow.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';
import { INTERVAL_OPTION, intervalMs } from './watch.js';
import { transferFrame } from './xfer-status.js';

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`${what} is required`);
  return value;
}

export const xferCommand = remoteCommand({
  name: 'xfer',
  summary: 'transfer the messages of selected queues to another cluster',
  synopsis: '--target URL --target-user U --reason R (--queue Q … | --pattern P | --everything) [--vhost V] [--remove-source-queue] [--watch]',
  description: [
    'Transfers queues of a vhost to another cluster (POST /api/queue-migration/xfer): recreates their exchanges,',
    'queues and bindings on the target, moves the messages with shovels, verifies the counts. The source queue is',
    'left empty unless --remove-source-queue. The reason is written to the audit log for every queue moved.',
    'The target password: QMIG_TARGET_PASSWORD (or --target-password, visible to other local users).',
  ].join('\n'),
  options: {
    target: { type: 'string', value: 'URL', description: 'management API (or qmig sidecar) URL of the target cluster' },
    'target-user': { type: 'string', value: 'U', description: 'user on the target cluster (administrator)' },
    'target-password': { type: 'string', value: 'P', description: 'its password (env QMIG_TARGET_PASSWORD)' },
    reason: { type: 'string', value: 'R', description: 'why: recorded in the audit log' },
    queue: { type: 'string', multiple: true, value: 'Q', description: 'transfer this queue (exact name, repeatable)' },
    pattern: { type: 'string', value: 'P', description: 'transfer the queues whose name matches this regular expression' },
    everything: { type: 'boolean', description: 'transfer every queue of the vhost' },
    vhost: { type: 'string', value: 'V', description: 'vhost of the queues (default /)' },
    'remove-source-queue': { type: 'boolean', description: 'delete each source queue once its messages are verified on the target' },
    watch: { type: 'boolean', description: 'follow the transfer to its end (exit code by its final status)' },
    ...INTERVAL_OPTION,
  },
  async run(ctx) {
    const v = ctx.values;
    const target = required(stringValue(v, 'target'), '--target');
    const targetUser = required(stringValue(v, 'target-user'), '--target-user');
    const targetPassword = stringValue(v, 'target-password') ?? ctx.env.QMIG_TARGET_PASSWORD;
    if (!targetPassword) throw new UsageError('the target password is required: set QMIG_TARGET_PASSWORD (or give --target-password)');
    const reason = required(stringValue(v, 'reason'), '--reason');
    if (reason.trim() === '') throw new UsageError('--reason needs a non-blank value');
    const queues = listValue(v, 'queue');
    const pattern = stringValue(v, 'pattern');
    const everything = flag(v, 'everything');
    const selections = [queues.length > 0, pattern !== undefined, everything].filter(Boolean).length;
    if (selections !== 1) {
      throw new UsageError(
        selections === 0
          ? 'choose what to transfer: --queue Q (repeatable), --pattern P, or --everything'
          : '--queue, --pattern and --everything exclude each other',
      );
    }
    const every = intervalMs(ctx);
    const body: Record<string, unknown> = {
      target,
      target_user: targetUser,
      target_password: targetPassword,
      reason,
      vhost: stringValue(v, 'vhost') ?? '/',
      ...(queues.length > 0 ? { queue_names: queues } : pattern !== undefined ? { pattern } : { everything: true }),
    };
    if (flag(v, 'remove-source-queue')) body.remove_source_queue = true;

    const res = await ctx.client().post<{ transfer_id: string; status: 'started' }>('/xfer', body);
    if (res.status !== 202) return ctx.fail(res);
    const id = res.body.transfer_id;
    const watch = flag(v, 'watch');
    if (ctx.json) printJson(ctx.io.stdout, res.body, watch);
    else println(ctx.io.stdout, `transfer started: ${id}${watch ? '' : `\nfollow it with: qmig xfer-status ${id}`}`);
    if (!watch) return EXIT.ok;
    const result = await follow<TransferView>(ctx, {
      path: `/xfer/${encodeURIComponent(id)}`,
      intervalMs: every,
      frame: transferFrame,
      active: (t) => ACTIVE_TRANSFER.includes(t.status),
      stopHint: `the transfer goes on; see it with \`qmig xfer-status ${id}\`, cancel it with \`qmig xfer-cancel ${id}\``,
    });
    if (result.kind === 'exit') return result.exitCode;
    const ok = result.body.status === 'completed';
    if (!ctx.json)
      println(ok ? ctx.io.stdout : ctx.io.stderr, `transfer ${id} ended ${result.body.status}${result.body.error ? `: ${result.body.error}` : ''}`);
    return ok ? EXIT.ok : EXIT.failed;
  },
});
