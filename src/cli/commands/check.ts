/**
 * `qmig check [--vhost V|--all] [--skip-unsuitable] [--allow-message-ttl]`: the pre-flight check
 * of POST /check/:vhost. Exit 0 when ready, 1 when not.
 */
import type { CheckAllReport, CheckReport } from '../api-types.js';
import { flag, stringValue, UsageError } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import { remoteCommand } from '../remote-command.js';

export function renderCheckReport(out: OutStream, report: CheckReport): void {
  const s = report.queue_checks.summary;
  println(
    out,
    `vhost ${printable(report.vhost)}: ${report.overall_ready ? 'READY' : 'NOT READY'}${report.skip_unsuitable_queues ? ' (unsuitable queues skipped)' : ''}`,
  );
  println(
    out,
    `queues: ${s.total_queues} total, ${s.compatible_queues} compatible, ${s.unsuitable_queues} unsuitable (${s.compatibility_percentage}% compatible)`,
  );
  println(out, 'system checks:');
  println(
    out,
    indent(
      table(
        ['STATUS', 'CHECK', 'MESSAGE'],
        report.system_checks.checks.map((c) => [c.status, c.check_type, printable(c.message)]),
      ),
    ),
  );
  if (report.queue_checks.results.length > 0) {
    println(out, 'unsuitable queues:');
    println(
      out,
      indent(
        table(
          ['QUEUE', 'TYPE', 'SEVERITY', 'REASON'],
          report.queue_checks.results.map((r) => [printable(r.queue), r.type, r.severity, printable(r.reason)]),
        ),
      ),
    );
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}

export const checkCommand = remoteCommand({
  name: 'check',
  summary: 'pre-flight check of a vhost (or all): exit 0 ready, 1 not ready',
  synopsis: '[--vhost V | --all] [--skip-unsuitable] [--allow-message-ttl]',
  description: 'Runs every system and queue check of a migration without starting one (POST /api/queue-migration/check/:vhost).',
  options: {
    vhost: { type: 'string', value: 'V', description: 'vhost to check (default /)' },
    all: { type: 'boolean', description: 'check every vhost' },
    'skip-unsuitable': { type: 'boolean', description: 'unsuitable queues do not make the vhost not ready (they would be skipped)' },
    'allow-message-ttl': { type: 'boolean', description: 'accept queues with a message TTL' },
  },
  async run(ctx) {
    const vhost = stringValue(ctx.values, 'vhost');
    const all = flag(ctx.values, 'all');
    if (all && vhost !== undefined) throw new UsageError('--vhost and --all exclude each other');
    const body: Record<string, boolean> = {};
    if (flag(ctx.values, 'skip-unsuitable')) body.skip_unsuitable_queues = true;
    if (flag(ctx.values, 'allow-message-ttl')) body.allow_message_ttl = true;
    const path = all ? '/check/all' : `/check/${encodeURIComponent(vhost ?? '/')}`;
    const res = await ctx.client().post<CheckReport | CheckAllReport>(path, body);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) {
      printJson(ctx.io.stdout, res.body);
    } else if ('vhosts' in res.body) {
      for (const report of res.body.vhosts) {
        renderCheckReport(ctx.io.stdout, report);
        println(ctx.io.stdout);
      }
      println(ctx.io.stdout, `all vhosts (${res.body.vhosts.length}): ${res.body.overall_ready ? 'READY' : 'NOT READY'}`);
    } else {
      renderCheckReport(ctx.io.stdout, res.body);
    }
    return res.body.overall_ready ? EXIT.ok : EXIT.failed;
  },
});
