/**
 * `qmig start [--vhost V …|--all-vhosts] [--queue Q…] [--batch-size N|all] [--batch-order …] [--tolerance P]
 * [--skip-unsuitable] [--allow-message-ttl] [--watch]`: POST /start/:vhost, or POST /start-many for
 * several vhosts (or all) in one run. Exit 0 when started
 * (with --watch: when it completed), 1 when refused (400/404/409) or it ended otherwise.
 */
import { flag, listValue, stringValue } from '../args.js';
import { startOptionsBody } from '../start-body.js';
import { EXIT } from '../exit-codes.js';
import { UsageError } from '../usage-error.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';
import { INTERVAL_OPTION, intervalMs, watchMigration } from './watch.js';

interface StartResponse {
  migration_id: string;
  status: 'started';
}

export const startCommand = remoteCommand({
  name: 'start',
  summary: "start a migration of a vhost's mirrored classic queues to quorum queues",
  synopsis:
    '[--vhost V … | --all-vhosts] [--queue Q …] [--batch-size N|all] [--batch-order smallest_first|largest_first] [--tolerance P] [--skip-unsuitable] [--allow-message-ttl] [--deadline TIME] [--not-before TIME] [--force] [--watch]',
  description:
    'Starts a migration (POST /api/queue-migration/start/:vhost); the same checks as `qmig check` must pass.\nWith --vhost given more than once, or --all-vhosts, one run over those vhosts in that order (POST /api/queue-migration/start-many): each vhost is fenced only while its own queues move; --batch-size counts per vhost.\nWith --watch, follows it to its end like `qmig watch`.',
  options: {
    vhost: { type: 'string', multiple: true, value: 'V', description: 'vhost to migrate (default /); repeat it for one run over several vhosts, in order' },
    'all-vhosts': { type: 'boolean', description: 'one run over every vhost you may change that has mirrored classic queues' },
    queue: { type: 'string', multiple: true, value: 'Q', description: 'migrate only this queue (repeatable; --batch-size/--batch-order are then ignored)' },
    'batch-size': { type: 'string', value: 'N|all', description: 'migrate at most N queues (0 or all: every eligible queue; default all)' },
    'batch-order': { type: 'string', value: 'ORDER', description: 'smallest_first (default) or largest_first' },
    tolerance: { type: 'string', value: 'P', description: 'accepted message count difference in percent, 0 to 100 (default exact)' },
    'skip-unsuitable': { type: 'boolean', description: 'skip unsuitable queues instead of refusing to start' },
    'allow-message-ttl': { type: 'boolean', description: 'accept queues with a message TTL' },
    deadline: { type: 'string', value: 'TIME', description: 'ISO 8601 time the window closes (e.g. 2026-12-03T22:00:00Z): no queue starts after it' },
    'not-before': {
      type: 'string',
      value: 'TIME',
      description: 'ISO 8601 time the window opens: the run is scheduled (status scheduled) and opens then on any sidecar, checks run again',
    },
    force: { type: 'boolean', description: "start even when the plan's estimate does not fit before --deadline" },
    watch: { type: 'boolean', description: 'follow the migration to its end (exit code by its final status)' },
    ...INTERVAL_OPTION,
  },
  async run(ctx) {
    const v = ctx.values;
    const body = startOptionsBody(v);
    const notBefore = stringValue(v, 'not-before');
    if (notBefore !== undefined) body.not_before = notBefore;
    if (flag(v, 'force')) body.force = true;
    const every = intervalMs(ctx);
    if (body.queue_names && (body.batch_size !== undefined || body.batch_order !== undefined))
      ctx.warn('--batch-size and --batch-order are ignored with --queue');
    const vhosts = listValue(v, 'vhost');
    if (flag(v, 'all-vhosts') && vhosts.length > 0) throw new UsageError('--all-vhosts and --vhost exclude each other');
    const many = flag(v, 'all-vhosts') ? 'all' : vhosts.length > 1 ? vhosts : null;
    const vhost = vhosts[0] ?? '/';

    const res = many
      ? await ctx.client().post<StartResponse>('/start-many', { vhosts: many, ...body })
      : await ctx.client().post<StartResponse>(`/start/${encodeURIComponent(vhost)}`, body);
    if (res.status !== 200) {
      const code = ctx.fail(res);
      if (res.status === 400 && !ctx.json) ctx.warn(`details: qmig check --vhost ${JSON.stringify(many ? 'all' : vhost)}`);
      return code;
    }
    const id = res.body.migration_id;
    if (ctx.json) printJson(ctx.io.stdout, res.body, flag(v, 'watch'));
    else println(ctx.io.stdout, `migration started: ${id}${flag(v, 'watch') ? '' : `\nfollow it with: qmig watch ${id}`}`);
    if (!flag(v, 'watch')) return EXIT.ok;
    return watchMigration(ctx, id, every);
  },
});
