/**
 * The drain part of a blue-green move (issue 18): the source vhost's queues drain into the target
 * through shovels while clients switch over, then cut over.
 *   qmig bluegreen start --vhost V --target URL --target-user U --reason R [--idle-seconds N] [--remove-source-queues]
 *   qmig bluegreen status [ID]
 *   qmig bluegreen cutover ID [--wait]
 *   qmig bluegreen cancel ID
 * Exit codes: 0 accepted / shown / completed; 1 refused, an unknown id, or (cutover --wait) a drain
 * that ended otherwise than completed.
 */
import { ACTIVE_DRAIN, type BlueGreenDrainAnswerView, type BlueGreenDrainSummaryView, type BlueGreenDrainView } from '../api-types.js';
import { flag, parseNumber, stringValue, UsageError } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { printable, printJson, println, table, type OutStream } from '../output.js';
import { apiTime, formatTime } from '../presentation.js';
import { remoteCommand } from '../remote-command.js';
import { targetRequest, TARGET_OPTIONS } from './bluegreen-target.js';

const WAIT_POLL_MS = 2000;

/** Why one queue is not ready for the cut-over yet, in words; null when it is idle long enough. */
export function queueWait(q: BlueGreenDrainView['queues'][number], idleSeconds: number, now: number): string | null {
  if (q.state === 'done' || q.state === 'cancelled' || q.state === 'failed') return null;
  const why: string[] = [];
  if (q.source.messages > 0) why.push(`${q.source.messages} message(s) left at the source`);
  if (q.source.consumers > 0) why.push(`${q.source.consumers} consumer(s) still on the source`);
  if (q.source.publishing) why.push('still published to at the source');
  if (q.link.state !== 'running' && q.source.messages > 0) why.push(`link ${q.link.state}${q.link.reason ? ` (${q.link.reason})` : ''}`);
  if (why.length === 0) {
    const since = q.source.idle_since === null ? now : apiTime(q.source.idle_since).getTime();
    const idleFor = Math.max(0, Math.floor((now - since) / 1000));
    if (idleFor >= idleSeconds) return null;
    why.push(`idle for ${idleFor} of ${idleSeconds} s`);
  }
  return `${printable(q.name)}: ${why.join(', ')}`;
}

/** What the cut-over waits for: one line per queue not ready (empty when nothing is awaited). */
export function waitingFor(d: BlueGreenDrainView, now = Date.now()): string[] {
  return d.queues.map((q) => queueWait(q, d.idle_seconds, now)).filter((line): line is string => line !== null);
}

export function renderDrainList(out: OutStream, drains: BlueGreenDrainSummaryView[]): void {
  if (drains.length === 0) {
    println(out, '(no blue-green drains)');
    return;
  }
  println(
    out,
    table(
      ['STATUS', 'QUEUES', 'AT SOURCE', 'AT TARGET', 'VHOST', 'TARGET', 'STARTED', 'ID'],
      drains.map((d) => [
        d.status,
        d.queues,
        d.source_messages,
        d.target_messages,
        printable(d.vhost),
        printable(d.target),
        formatTime(d.started_at),
        d.drain_id,
      ]),
    ),
  );
}

export function renderDrain(out: OutStream, d: BlueGreenDrainView): void {
  const lines: Array<[string, string | null]> = [
    ['drain', d.drain_id],
    ['status', d.status],
    ['vhost', printable(d.vhost)],
    ['target', `${printable(d.target)} (cluster ${printable(d.target_cluster_name)})`],
    ['reason', printable(d.reason)],
    ['who', printable(d.who)],
    ['link user', printable(d.target_shovel_user)],
    ['queues', `${d.totals.queues}, ${d.totals.idle_queues} idle`],
    ['messages', `${d.totals.source_messages} at the source, ${d.totals.target_messages} at the target`],
    [
      'cut-over',
      `${d.cutover_requested_at ? `requested ${formatTime(d.cutover_requested_at)}` : 'not requested'}; after ${d.idle_seconds} s idle${d.remove_source_queues ? ', source queues removed' : ''}`,
    ],
    ['started', formatTime(d.started_at)],
    ['ended', formatTime(d.ended_at)],
    ['error', d.error === null ? null : printable(d.error)],
  ];
  for (const [k, v] of lines) println(out, `${(k + ':').padEnd(11)}${v ?? '-'}`);
  if (d.queues.length > 0) {
    println(out);
    println(
      out,
      table(
        ['QUEUE', 'STATE', 'SOURCE', 'SRC CONSUMERS', 'PUBLISHING', 'TARGET', 'TGT CONSUMERS', 'LINK'],
        d.queues.map((q) => [
          printable(q.name),
          q.state,
          q.source.removed ? 'removed' : q.source.messages,
          q.source.consumers,
          q.source.publishing ? 'yes' : 'no',
          q.target.messages,
          q.target.consumers,
          q.link.reason ? `${q.link.state}: ${printable(q.link.reason)}` : q.link.state,
        ]),
      ),
    );
  }
}

const drainPath = (id: string) => encodeURIComponent(id);

export const bluegreenStartCommand = remoteCommand({
  name: 'bluegreen start',
  summary: "drain a vhost's queues into another cluster while clients switch",
  synopsis: '--vhost V --target URL --target-user U --reason R [--idle-seconds N] [--remove-source-queues]',
  description: [
    "Starts a blue-green drain (POST /api/queue-migration/bluegreen/start/:vhost): the vhost's definitions are",
    'applied on the target as `qmig bluegreen definitions` does (refused, exit 1, on any conflict), then a shovel per',
    'queue moves its messages to the target continuously, while producers and consumers move over at their own pace.',
    'Follow it with `qmig bluegreen status ID`; end it with `qmig bluegreen cutover ID` (or `cancel`).',
    'The target password: QMIG_TARGET_PASSWORD (or --target-password, visible to other local users).',
  ].join('\n'),
  options: {
    ...TARGET_OPTIONS,
    reason: { type: 'string', value: 'R', description: 'why: recorded in the audit log (required)' },
    'idle-seconds': { type: 'string', value: 'N', description: 'how long every source queue must be idle before the cut-over (default 30)' },
    'remove-source-queues': { type: 'boolean', description: 'at the cut-over, delete the source queues (only empty ones)' },
  },
  async run(ctx) {
    const { vhost, body } = targetRequest(ctx.values, ctx.env);
    const reason = stringValue(ctx.values, 'reason');
    if (reason === undefined || reason.trim() === '') throw new UsageError('--reason is required (recorded in the audit log)');
    const idle = stringValue(ctx.values, 'idle-seconds');
    const request: Record<string, unknown> = { ...body, reason };
    if (idle !== undefined) request.idle_seconds = parseInteger('idle-seconds', idle, 1, 86_400);
    if (flag(ctx.values, 'remove-source-queues')) request.remove_source_queues = true;
    const res = await ctx.client().post<BlueGreenDrainAnswerView>(`/bluegreen/start/${encodeURIComponent(vhost)}`, request);
    if (res.status !== 202) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else println(ctx.io.stdout, `drain started: ${res.body.drain_id}\nfollow it with: qmig bluegreen status ${res.body.drain_id}`);
    return EXIT.ok;
  },
});

function parseInteger(name: string, raw: string, min: number, max: number): number {
  const n = parseNumber(name, raw, min, max);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number between ${min} and ${max}, not '${raw}'`);
  return n;
}

export const bluegreenStatusCommand = remoteCommand({
  name: 'bluegreen status',
  summary: 'list the blue-green drains, or show one per queue',
  synopsis: '[ID]',
  description: [
    'Without ID: every drain (GET /api/queue-migration/bluegreen/status).',
    'With ID: that drain, and per queue the backlog on each side, consumers, whether the source is still',
    'published to, and the link (GET /api/queue-migration/bluegreen/status/:id).',
  ].join('\n'),
  options: {},
  positionals: { names: ['ID'], required: 0 },
  async run(ctx) {
    const id = ctx.positionals[0];
    if (id === undefined) {
      const res = await ctx.client().get<BlueGreenDrainSummaryView[]>('/bluegreen/status');
      if (res.status !== 200) return ctx.fail(res);
      if (ctx.json) printJson(ctx.io.stdout, res.body);
      else renderDrainList(ctx.io.stdout, res.body);
      return EXIT.ok;
    }
    const res = await ctx.client().get<BlueGreenDrainView>(`/bluegreen/status/${drainPath(id)}`);
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else renderDrain(ctx.io.stdout, res.body);
    return EXIT.ok;
  },
});

export const bluegreenCutoverCommand = remoteCommand({
  name: 'bluegreen cutover',
  summary: 'cut a drain over once every source queue is empty and idle',
  synopsis: 'ID [--wait]',
  description: [
    'Requests the cut-over (POST /api/queue-migration/bluegreen/cutover/:id): once every source queue has been',
    "empty, without consumers and without publishes for the drain's idle time, the links and the temporary",
    'target user are removed (and the source queues, if the drain was started with --remove-source-queues).',
    'Prints what the cut-over waits for; with --wait, follows it to its end (exit 0 only when completed).',
  ].join('\n'),
  options: { wait: { type: 'boolean', description: 'follow the cut-over to its end' } },
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const id = ctx.positionals[0];
    const client = ctx.client();
    const res = await client.post<BlueGreenDrainAnswerView>(`/bluegreen/cutover/${drainPath(id)}`, {});
    if (res.status !== 202) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else println(ctx.io.stdout, `cut-over requested for drain ${id}`);
    let shown = '';
    for (;;) {
      const detail = await client.get<BlueGreenDrainView>(`/bluegreen/status/${drainPath(id)}`);
      if (detail.status !== 200) return ctx.fail(detail);
      const d = detail.body;
      if (!ACTIVE_DRAIN.includes(d.status)) {
        if (ctx.json) printJson(ctx.io.stdout, d);
        else println(ctx.io.stdout, `drain ${id} ${d.status}${d.error ? `: ${printable(d.error)}` : ''}`);
        return d.status === 'completed' ? EXIT.ok : EXIT.failed;
      }
      const lines = waitingFor(d);
      const text = lines.length === 0 ? 'every source queue is idle: cutting over' : ['waiting for:', ...lines.map((l) => `  ${l}`)].join('\n');
      if (!ctx.json && text !== shown) println(ctx.io.stdout, text);
      shown = text;
      if (!flag(ctx.values, 'wait')) return EXIT.ok;
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  },
});

export const bluegreenCancelCommand = remoteCommand({
  name: 'bluegreen cancel',
  summary: 'cancel a drain: links removed, every message stays on one side or the other',
  synopsis: 'ID',
  description: [
    'Cancels a drain (POST /api/queue-migration/bluegreen/cancel/:id): its shovels are stopped and the temporary',
    'target user deleted; messages already moved stay at the target, the rest at the source (at most the',
    "links' prefetch per queue may exist on both sides: see the README).",
  ].join('\n'),
  options: {},
  positionals: { names: ['ID'], required: 1 },
  async run(ctx) {
    const id = ctx.positionals[0];
    const res = await ctx.client().post<BlueGreenDrainAnswerView>(`/bluegreen/cancel/${drainPath(id)}`, {});
    if (res.status !== 200) return ctx.fail(res);
    if (ctx.json) printJson(ctx.io.stdout, res.body);
    else println(ctx.io.stdout, `drain ${id} ${res.body.status}`);
    return EXIT.ok;
  },
});
