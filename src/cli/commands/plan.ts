/**
 * `qmig plan [--vhost V … | --all] [start options…] [--recalibrate]`: POST /plan/:vhost (several
 * --vhost: POST /plan-many, the plan of `qmig start --vhost A --vhost B`) — the
 * queues a start with the same options would migrate, in its order, what changes per queue, disk
 * per node, the check's verdict and the calibrated estimate. Changes nothing. Exit 0 when the
 * check passes (and, with --deadline, the estimate fits), 1 otherwise.
 */
import type { PlanAllView, PlanView } from '../api-types.js';
import { flag, listValue, UsageError } from '../args.js';
import { startOptionsBody } from '../start-body.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import { remoteCommand } from '../remote-command.js';

const MIB = 1024 * 1024;
const mib = (b: number | null) => (b === null ? '?' : `${(b / MIB).toFixed(1)} MiB`);

export function renderPlan(out: OutStream, p: PlanView): void {
  const e = p.estimate;
  println(
    out,
    `vhost ${printable(p.vhost)}: ${p.queues.length} queue(s) to migrate, ${p.skipped.length} skipped; check ${p.check.overall_ready ? 'passes' : 'FAILS'}`,
  );
  for (const c of p.check.failed_checks) println(out, `  failed check ${c.check_type}: ${printable(c.message)}`);
  println(out, `estimate: ${e.seconds} s (range ${e.low_seconds}-${e.high_seconds} s, ${e.concurrency} at a time; calibrated ${e.calibrated_at})`);
  if (p.fit) println(out, `deadline: ${p.fit.fits ? 'fits' : 'does NOT fit'} (needs ${p.fit.needed_seconds} s, ${p.fit.available_seconds} s available)`);
  println(
    out,
    `disk: ${mib(p.disk.required_bytes)} needed on every node; ${p.disk.nodes.map((n) => `${n.node} ${mib(n.available_bytes)} free${n.fits === false ? ' (too little)' : ''}`).join(', ')}`,
  );
  if (p.queues.length > 0) {
    println(
      out,
      table(
        ['#', 'QUEUE', 'MESSAGES', 'BYTES', 'NODE', 'EST. S', 'DROPPED ARGUMENTS', 'DROPPED POLICY KEYS'],
        p.queues.map((q, i) => [
          String(i + 1),
          printable(q.name),
          String(q.messages),
          String(q.bytes),
          q.node ?? '-',
          String(q.estimated_seconds),
          q.dropped_arguments.join(',') || '-',
          q.dropped_policy_keys.length > 0 ? `${printable(q.policy ?? '')}: ${q.dropped_policy_keys.join(',')}` : '-',
        ]),
      ),
    );
  }
  if (p.skipped.length > 0)
    println(
      out,
      table(
        ['SKIPPED', 'REASON'],
        p.skipped.map((s) => [printable(s.name), printable(s.reason)]),
      ),
    );
}

export const planCommand = remoteCommand({
  name: 'plan',
  summary: 'what a start would migrate, in which order, and how long it should take (changes nothing)',
  synopsis:
    '[--vhost V … | --all] [--queue Q …] [--batch-size N|all] [--batch-order smallest_first|largest_first] [--tolerance P] [--skip-unsuitable] [--allow-message-ttl] [--deadline TIME] [--recalibrate]',
  description:
    'The plan of a start with the same options (POST /api/queue-migration/plan/:vhost): queues in migration order, dropped arguments and policy keys,\ndisk per node, the check verdict and an estimate calibrated on this cluster (a short probe, cached by the sidecar).',
  options: {
    vhost: {
      type: 'string',
      multiple: true,
      value: 'V',
      description: 'vhost to plan (default /); several: the plan of one run over them in that order (qmig start --vhost A --vhost B)',
    },
    all: { type: 'boolean', description: 'plan every vhost with mirrored queues' },
    queue: { type: 'string', multiple: true, value: 'Q', description: 'only this queue (repeatable)' },
    'batch-size': { type: 'string', value: 'N|all', description: 'at most N queues (default all)' },
    'batch-order': { type: 'string', value: 'ORDER', description: 'smallest_first (default) or largest_first' },
    tolerance: { type: 'string', value: 'P', description: 'accepted message count difference in percent' },
    'skip-unsuitable': { type: 'boolean', description: 'plan with unsuitable queues skipped' },
    'allow-message-ttl': { type: 'boolean', description: 'accept queues with a message TTL' },
    deadline: { type: 'string', value: 'TIME', description: 'ISO 8601 time the window closes: the plan says whether the run fits' },
    recalibrate: { type: 'boolean', description: 'run a new calibration probe instead of the cached one' },
  },
  async run(ctx) {
    const v = ctx.values;
    const vhosts = listValue(v, 'vhost');
    const vhost = vhosts[0];
    const all = flag(v, 'all');
    if (all && vhosts.length > 0) throw new UsageError('--vhost and --all exclude each other');
    const body = startOptionsBody(v);
    const query = flag(v, 'recalibrate') ? '?recalibrate=true' : '';
    const many = vhosts.length > 1;
    const path = all ? `/plan/all${query}` : many ? `/plan-many${query}` : `/plan/${encodeURIComponent(vhost ?? '/')}${query}`;
    const res = await ctx.client().post<PlanView | PlanAllView>(path, many ? { vhosts, ...body } : body);
    if (res.status !== 200) return ctx.fail(res);
    const plans = 'vhosts' in res.body ? res.body.vhosts : [res.body];
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else {
      for (const p of plans) {
        renderPlan(ctx.io.stdout, p);
        println(ctx.io.stdout);
      }
      if ('vhosts' in res.body) {
        const e = res.body.estimate;
        println(
          ctx.io.stdout,
          `${res.body.vhost === 'all' ? 'all vhosts' : 'these vhosts'} (${plans.length}), one after the other: ${e.seconds} s (range ${e.low_seconds}-${e.high_seconds} s)`,
        );
        const fit = res.body.fit;
        if (fit)
          println(ctx.io.stdout, `deadline: ${fit.fits ? 'fits' : 'does NOT fit'} (needs ${fit.needed_seconds} s, ${fit.available_seconds} s available)`);
      }
    }
    const whole = 'vhosts' in res.body ? res.body.fit : null;
    return plans.every((p) => p.check.overall_ready) && (whole ? whole.fits : plans.every((p) => p.fit === null || p.fit.fits)) ? EXIT.ok : EXIT.failed;
  },
});
