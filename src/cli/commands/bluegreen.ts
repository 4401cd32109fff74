/**
 * `qmig bluegreen plan --vhost V --target URL --target-user U [--target-password P]` and
 * `qmig bluegreen definitions --vhost V --target URL --target-user U --reason R`: the definitions
 * part of a blue-green move of one vhost to another cluster (POST bluegreen/plan/:vhost and
 * POST bluegreen/definitions/:vhost). The target password comes from --target-password or
 * QMIG_TARGET_PASSWORD and is never printed.
 * Exit codes: plan 0 when the apply could go ahead, 1 when the target has conflicts; definitions
 * 0 when applied, 1 when refused (409 definitions_conflict: nothing written).
 * The drain's subcommands (start, status, cutover, cancel) are in bluegreen-drain.ts.
 */
import type { BlueGreenAppliedView, BlueGreenKind, BlueGreenPlanView } from '../api-types.js';
import { stringValue, UsageError } from '../args.js';
import { EXIT } from '../exit-codes.js';
import type { Subcommand } from '../main.js';
import { printJson, println } from '../output.js';
import { remoteCommand } from '../remote-command.js';
import { bluegreenCancelCommand, bluegreenCutoverCommand, bluegreenStartCommand, bluegreenStatusCommand } from './bluegreen-drain.js';
import { required, targetRequest, TARGET_OPTIONS } from './bluegreen-target.js';

const KINDS: BlueGreenKind[] = ['policies', 'exchanges', 'queues', 'bindings'];

const pad = (kind: string) => `${kind}:`.padEnd(11);

/** The plan for a person: counts per kind, then what changes, what is left behind, the conflicts. */
export function planLines(plan: BlueGreenPlanView): string[] {
  const lines = [
    `blue-green plan of vhost '${plan.vhost}' -> ${plan.target} (cluster ${plan.target_cluster_name}; vhost ${plan.target_vhost_exists ? 'exists there' : 'will be created'})`,
    ...KINDS.map((k) => `  ${pad(k)}create ${plan.counts[k].create}, same ${plan.counts[k].same}, conflict ${plan.counts[k].conflict}`),
  ];
  for (const c of plan.queue_conversions) {
    lines.push(`  to quorum: ${c.name} (policy ${c.policy}${c.dropped_arguments.length > 0 ? `; drops ${c.dropped_arguments.join(', ')}` : ''})`);
  }
  for (const p of plan.policy_changes)
    lines.push(`  policy ${p.name}: ${p.dropped ? 'dropped (only mirroring keys)' : `strips ${p.stripped_keys.join(', ')}`}`);
  for (const x of plan.policy_shifts) {
    lines.push(`  policy of queue ${x.queue} changes: ${x.source_policy ?? 'none'} -> ${x.target_policy ?? 'none'} ${JSON.stringify(x.target_definition)}`);
  }
  for (const n of plan.not_transferable) lines.push(`  not transferable: ${n.kind.replace(/s$/, '')} ${n.name}: ${n.reason}`);
  for (const k of KINDS) {
    for (const e of plan.diff[k].filter((x) => x.action === 'conflict'))
      lines.push(`  CONFLICT ${k.replace(/s$/, '')} ${e.name}: ${e.difference ?? 'differs'}`);
  }
  lines.push(
    plan.counts.total.conflict > 0
      ? `${plan.counts.total.conflict} conflict(s): \`qmig bluegreen definitions\` would refuse; conflicts are never overwritten`
      : `ready: \`qmig bluegreen definitions --vhost ${plan.vhost} --reason R …\` creates ${plan.counts.total.create} object(s)`,
  );
  return lines;
}

export const bluegreenPlanCommand = remoteCommand({
  name: 'bluegreen plan',
  summary: "plan a vhost's definitions on another cluster (writes nothing)",
  synopsis: '--vhost V --target URL --target-user U',
  description: [
    "Plans the definitions of a blue-green move (POST /api/queue-migration/bluegreen/plan/:vhost): the vhost's",
    'queues, exchanges, bindings and policies as the target would get them (mirrored classic queues as quorum',
    'queues, mirroring keys stripped from policies), what cannot be transferred, and per object create / same /',
    'conflict against the target. Writes nothing. Exit 1 when the target has conflicts.',
    'The target password: QMIG_TARGET_PASSWORD (or --target-password, visible to other local users).',
  ].join('\n'),
  options: TARGET_OPTIONS,
  async run(ctx) {
    const { vhost, body } = targetRequest(ctx.values, ctx.env);
    const res = await ctx.client().post<BlueGreenPlanView>(`/bluegreen/plan/${encodeURIComponent(vhost)}`, body);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else for (const line of planLines(res.body)) println(ctx.io.stdout, line);
    return res.body.counts.total.conflict > 0 ? EXIT.failed : EXIT.ok;
  },
});

export const bluegreenDefinitionsCommand = remoteCommand({
  name: 'bluegreen definitions',
  summary: "create a vhost's definitions on another cluster",
  synopsis: '--vhost V --target URL --target-user U --reason R',
  description: [
    'Applies the blue-green definitions plan (POST /api/queue-migration/bluegreen/definitions/:vhost): refused',
    '(exit 1, nothing written) when the target holds a conflicting object; otherwise creates the vhost on the target',
    'if absent and declares the objects the plan says to create. The reason is written to the audit log.',
    'The target password: QMIG_TARGET_PASSWORD (or --target-password, visible to other local users).',
  ].join('\n'),
  options: { ...TARGET_OPTIONS, reason: { type: 'string', value: 'R', description: 'why: recorded in the audit log (required)' } },
  async run(ctx) {
    const { vhost, body } = targetRequest(ctx.values, ctx.env);
    const reason = required(stringValue(ctx.values, 'reason'), '--reason');
    if (reason.trim() === '') throw new UsageError('--reason needs a non-blank value');
    const res = await ctx.client().post<BlueGreenAppliedView>(`/bluegreen/definitions/${encodeURIComponent(vhost)}`, { ...body, reason });
    if (res.status !== 200) return ctx.fail(res);
    const a = res.body;
    if (ctx.json) printJson(ctx.io.stdout, a);
    else {
      println(
        ctx.io.stdout,
        `vhost '${a.vhost}' on ${a.target}${a.vhost_created ? ' (vhost created)' : ''}: created ${a.counts.created}, already the same ${a.counts.same}`,
      );
      for (const k of KINDS) if (a.created[k].length > 0) println(ctx.io.stdout, `  ${pad(k)}${a.created[k].join(', ')}`);
      for (const n of a.not_transferable) println(ctx.io.stdout, `  not transferred: ${n.kind.replace(/s$/, '')} ${n.name}: ${n.reason}`);
    }
    return EXIT.ok;
  },
});

const SUBCOMMANDS: Record<string, Subcommand> = {
  plan: bluegreenPlanCommand,
  definitions: bluegreenDefinitionsCommand,
  start: bluegreenStartCommand,
  status: bluegreenStatusCommand,
  cutover: bluegreenCutoverCommand,
  cancel: bluegreenCancelCommand,
};
const NAMES = Object.keys(SUBCOMMANDS);

/** `qmig bluegreen plan|definitions|start|status|cutover|cancel …`: one command of the table, its subcommands. */
export const bluegreenCommand: Subcommand = {
  name: 'bluegreen',
  summary: `blue-green move of a vhost to another cluster: ${NAMES.join(' | ')}`,
  usage: [`usage: qmig bluegreen ${NAMES.join('|')} [options]`, ...Object.values(SUBCOMMANDS).flatMap((c) => ['', c.usage])].join('\n'),
  options: [...new Set(Object.values(SUBCOMMANDS).flatMap((c) => c.options ?? []))],
  async run(args) {
    const [sub, ...rest] = args;
    const command = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!command) {
      console.error(
        `qmig bluegreen: ${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}: use ${NAMES.join(', ')} (qmig help bluegreen)`,
      );
      return EXIT.usage;
    }
    return command.run(rest);
  },
};
