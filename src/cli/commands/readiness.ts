/**
 * `qmig readiness [--vhost V] [--strip POLICY …]`: the 4.x readiness report of a vhost
 * (GET /readiness/:vhost), or, with --strip, the removal of the mirroring keys of the named
 * policies (POST /readiness/:vhost/strip-mirroring-keys). Exit 0 when ready for 4.x (or the strip
 * was done), 1 when warnings are left (or the strip was refused).
 */
import type { ReadinessView, StripView } from '../api-types.js';
import { listValue, stringValue } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table } from '../output.js';
import { remoteCommand } from '../remote-command.js';

export const readinessCommand = remoteCommand({
  name: 'readiness',
  summary: 'what a vhost must fix before RabbitMQ 4.x (exit 0 ready, 1 warnings left); --strip removes mirroring keys from policies',
  synopsis: '[--vhost V] [--strip POLICY …]',
  description:
    'Lists what RabbitMQ 4.x removes or changes that the vhost still relies on, with the subjects and the fix (GET /api/queue-migration/readiness/:vhost).\n' +
    'With --strip, removes the ha-* keys of the named policies (a policy left empty is deleted); refused when one still mirrors a queue.',
  options: {
    vhost: { type: 'string', value: 'V', description: 'vhost (default /)' },
    strip: { type: 'string', multiple: true, value: 'POLICY', description: 'remove the mirroring keys of this policy (repeatable)' },
  },
  async run(ctx) {
    const vhost = stringValue(ctx.values, 'vhost') ?? '/';
    const strip = listValue(ctx.values, 'strip');
    const base = `/readiness/${encodeURIComponent(vhost)}`;
    if (strip.length > 0) {
      const res = await ctx.client().post<StripView>(`${base}/strip-mirroring-keys`, { policies: strip });
      if (res.status !== 200) return ctx.fail(res);
      if (ctx.json) printJson(ctx.io.stdout, res.body);
      else
        for (const p of res.body.policies) {
          println(ctx.io.stdout, `${printable(p.policy)}: removed ${p.removed_keys.join(', ')}${p.deleted ? '; nothing left, policy deleted' : ''}`);
        }
      return EXIT.ok;
    }
    const res = await ctx.client().get<ReadinessView>(base);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) {
      printJson(ctx.io.stdout, res.body);
    } else {
      println(ctx.io.stdout, `vhost ${printable(res.body.vhost)}: ${res.body.ready_for_4x ? 'READY for 4.x' : 'NOT READY for 4.x'}`);
      for (const item of res.body.items) {
        println(ctx.io.stdout, `\n${item.severity.toUpperCase()} ${item.kind}: ${printable(item.message)}\n  fix: ${printable(item.fix)}`);
        const rows = item.subjects.map((s) => [
          s.type,
          printable(s.name),
          printable(s.detail ?? ''),
          s.new_definition === undefined ? '' : s.new_definition === null ? '(delete)' : JSON.stringify(s.new_definition),
        ]);
        println(ctx.io.stdout, table(['TYPE', 'NAME', 'DETAIL', 'AFTER THE EDIT'], rows).replace(/^/gm, '  '));
      }
    }
    return res.body.ready_for_4x ? EXIT.ok : EXIT.failed;
  },
});
