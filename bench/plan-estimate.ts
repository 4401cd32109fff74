/**
 * Figure 6 of `npm run bench:all` (issue 17): the plan's estimate against the measured run.
 * Two vhosts, each migrated end to end by a sidecar process after POST plan with the same body:
 *   6a  500 mirrored queues × 100 messages of 100 B (the figure-2 load);
 *   6b  50 mirrored queues × 4,000 messages, mixed: bodies of 100 B, 1 KB and 4 KB and
 *       arguments none / x-max-priority / x-queue-mode lazy / x-max-length, one per queue in turn.
 * Prints estimate (with range), measured seconds (POST start → final status seen) and the error
 * % = (estimate − measured) / measured; target |error| ≤ 25 %. The first plan of the sidecar
 * runs the calibration probe (its time is printed); the start then reuses that calibration.
 * BENCH_PLAN_CASES=a,b runs only some.
 */
import amqplib from 'amqplib';
import {
  amqpUrl,
  api,
  deleteVhost,
  freshVhost,
  mgmt,
  migrateThroughSidecar,
  publishTo,
  seconds,
  startSidecarProcess,
  waitMirrored,
  type SidecarProcess,
} from './bench-support.js';
import type { Figure } from './figure.js';

interface Case {
  id: string;
  label: string;
  queues: number;
  messages: number;
  bodies: number[];
  args: Record<string, unknown>[];
}

const CASES: Case[] = [
  { id: 'a', label: '500 queues × 100 messages (100 B)', queues: 500, messages: 100, bodies: [100], args: [{}] },
  {
    id: 'b',
    label: '50 queues × 4,000 messages, mixed sizes and arguments',
    queues: 50,
    messages: 4000,
    bodies: [100, 1000, 4000],
    args: [{}, { 'x-max-priority': 5 }, { 'x-queue-mode': 'lazy' }, { 'x-max-length': 1_000_000 }],
  },
];

/** Sum and count of qmig_migration_phase_duration_seconds per phase, from the sidecar's /metrics. */
async function phaseTimes(url: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, { sum: number; count: number }>();
  for (const m of text.matchAll(/^qmig_migration_phase_duration_seconds_(sum|count)\{[^}]*phase="([^"]+)"[^}]*\} (\S+)/gm)) {
    const e = out.get(m[2]) ?? { sum: 0, count: 0 };
    e[m[1] as 'sum' | 'count'] += Number(m[3]);
    out.set(m[2], e);
  }
  return out;
}

/** Mean seconds per phase between two readings: "phase mean(count)". */
function phaseDiff(a: Map<string, { sum: number; count: number }>, b: Map<string, { sum: number; count: number }>): string {
  return [...b.entries()]
    .map(([k, v]) => {
      const p = a.get(k) ?? { sum: 0, count: 0 };
      const n = v.count - p.count;
      return n > 0 ? `${k} ${((v.sum - p.sum) / n).toFixed(3)}(${n})` : null;
    })
    .filter(Boolean)
    .join(', ');
}

/** Measured seconds per queue: by start order (first, middle, last `concurrency` queues), by body size and by arguments. */
function queueTimes(queues: { resource: { name: string }; started_at: string | null; completed_at: string | null }[], c: Case): string {
  const done = queues
    .filter((q) => q.started_at && q.completed_at)
    .map((q) => ({
      i: Number(/(\d+)$/.exec(q.resource.name)?.[1] ?? -1),
      start: Date.parse(q.started_at!),
      s: (Date.parse(q.completed_at!) - Date.parse(q.started_at!)) / 1000,
    }))
    .sort((a, b) => a.start - b.start);
  const m = (xs: { s: number }[]) => (xs.length ? (xs.reduce((t, x) => t + x.s, 0) / xs.length).toFixed(2) : '-');
  const k = Math.min(6, Math.floor(done.length / 3));
  const mid = Math.floor(done.length / 2);
  const by = (label: string, n: number, f: (i: number) => number, names: (v: number) => string) =>
    n > 1 ? `${label} ${Array.from({ length: n }, (_, v) => `${names(v)} ${m(done.filter((d) => f(d.i) === v))}`).join(', ')}` : '';
  return [
    `first ${m(done.slice(0, k))}, middle ${m(done.slice(mid - Math.floor(k / 2), mid + Math.ceil(k / 2)))}, last ${m(done.slice(-k))}, all ${m(done)}`,
    by(
      'body',
      c.bodies.length,
      (i) => i % c.bodies.length,
      (v) => `${c.bodies[v]} B`,
    ),
    by(
      'args',
      c.args.length,
      (i) => i % c.args.length,
      (v) => Object.keys(c.args[v]).join('') || 'none',
    ),
  ]
    .filter(Boolean)
    .join('; ');
}

async function seed(vhost: string, c: Case, nodes: string[]): Promise<void> {
  const names = Array.from({ length: c.queues }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  // Masters spread over the nodes (client-local declares), each queue with its own arguments.
  const conns = await Promise.all(nodes.map((_, i) => amqplib.connect(amqpUrl(vhost, i))));
  try {
    const chans = await Promise.all(conns.map((x) => x.createChannel()));
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names.slice(i, i + 100).map((n, k) => chans[(i + k) % chans.length].assertQueue(n, { durable: true, arguments: c.args[(i + k) % c.args.length] })),
      );
    }
  } finally {
    await Promise.all(conns.map((x) => x.close().catch(() => undefined)));
  }
  for (const body of c.bodies) {
    const mine = names.filter((_, i) => c.bodies[i % c.bodies.length] === body);
    await publishTo(vhost, new Map(mine.map((n) => [n, c.messages])), Buffer.alloc(body, 'x'));
  }
  await waitMirrored(vhost, c.queues);
  // The plan reads the sizes from the management API, whose counts are sampled (every 5 s with
  // default intervals): plan only once every queue is counted full, as an operator's would be.
  const expected = c.queues * c.messages;
  for (const until = Date.now() + 120_000; ;) {
    const qs = await mgmt.queues(vhost, ['name', 'messages']);
    if (qs.reduce((t, q) => t + (q.messages ?? 0), 0) >= expected) return;
    if (Date.now() > until) throw new Error(`${vhost}: the management API did not count ${expected} messages within 120 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function planEstimate(nodes: string[]): Promise<Figure[]> {
  const wanted = new Set((process.env.BENCH_PLAN_CASES ?? 'a,b').split(',').map((s) => s.trim()));
  const figures: Figure[] = [];
  for (const c of CASES.filter((x) => wanted.has(x.id))) {
    const vhost = await freshVhost(`plan${c.id}`);
    let sidecar: SidecarProcess | null = null;
    try {
      console.log(`[6${c.id}] seeding ${c.label} …`);
      await seed(vhost, c, nodes);
      sidecar = await startSidecarProcess(vhost);
      const p0 = await phaseTimes(sidecar.url);
      const t0 = performance.now();
      const plan = await api(`${sidecar.url}/api/queue-migration/plan/${encodeURIComponent(vhost)}`, 'POST', {});
      if (plan.status !== 200) throw new Error(`plan answered ${plan.status}: ${JSON.stringify(plan.body)}`);
      const planMs = performance.now() - t0;
      const e = plan.body.estimate;
      const cal = plan.body.calibration;
      const path = (p: { fixed_seconds: number; per_message_seconds: number; per_mib_seconds: number }) =>
        `${p.fixed_seconds} s/queue + ${(p.per_message_seconds * 1000).toFixed(3)} ms/message + ${p.per_mib_seconds} s/MiB`;
      const planned = plan.body.queues as { messages: number; bytes: number }[];
      const shovelled = planned.filter((q) => q.messages >= cal.shovel_min_messages).length;
      console.log(
        `[6${c.id}] plan in ${seconds(planMs)} s (probe ${cal.probe_seconds} s: sidecar path ${path(cal)}; shovel path ${path(cal.shovel)}; overhead ${cal.run_overhead_seconds} s + check ${e.check_seconds} s): ${planned.length} queues (${shovelled} by shovels), ${planned.reduce((t, q) => t + q.messages, 0)} messages, ${(planned.reduce((t, q) => t + q.bytes, 0) / 1048576).toFixed(1)} MiB, estimate ${e.seconds} s (${e.low_seconds}-${e.high_seconds})`,
      );
      const p1 = await phaseTimes(sidecar.url);
      const mig = await migrateThroughSidecar(sidecar.url, vhost, {});
      const p2 = await phaseTimes(sidecar.url);
      console.log(`[6${c.id}] phase means, probe: ${phaseDiff(p0, p1)}`);
      console.log(`[6${c.id}] phase means, run:   ${phaseDiff(p1, p2)}`);
      if (mig.status !== 'completed') throw new Error(`migration ended ${mig.status}: ${mig.error}`);
      const detail = await api(`${sidecar.url}/api/queue-migration/status/${encodeURIComponent(mig.id)}`, 'GET');
      const recorded = detail.body.migration.estimate;
      console.log(`[6${c.id}] queue seconds, ${queueTimes(detail.body.queues, c)}`);
      const measured = mig.ms / 1000;
      const error = ((e.seconds - measured) / measured) * 100;
      const line = `estimate ${e.seconds} s (range ${e.low_seconds}-${e.high_seconds}), measured ${measured.toFixed(2)} s, error ${error >= 0 ? '+' : ''}${error.toFixed(1)} %`;
      console.log(
        `[6${c.id}] ${line}; recorded at start: ${recorded ? `${recorded.seconds} s` : 'none'}, status actual_seconds ${detail.body.migration.actual_seconds}`,
      );
      if (process.env.BENCH_PLAN_PROBE_AFTER === '1') {
        // Diagnosis: a second probe with the run's quorum queues (and their messages) in place.
        // 503 until the management API has sampled the new quorum queues (5-s statistics).
        const replan = async () => {
          await new Promise((r) => setTimeout(r, 5000));
          return api(`${sidecar!.url}/api/queue-migration/plan/${encodeURIComponent(vhost)}?recalibrate=true`, 'POST', {});
        };
        let again = await replan();
        for (let i = 0; i < 5 && again.status === 503; i++) again = await replan();
        const samples = (again.body.calibration?.samples ?? []) as { kind: string; mean_seconds: number }[];
        console.log(
          `[6${c.id}] probe after the run (${again.body.calibration?.probe_seconds} s): ${samples.map((x) => `${x.kind} ${x.mean_seconds}`).join(', ')}`,
        );
        console.log(
          `[6${c.id}] probe before the run: ${(cal.samples as { kind: string; mean_seconds: number }[]).map((x) => `${x.kind} ${x.mean_seconds}`).join(', ')}`,
        );
      }
      figures.push({
        id: `6${c.id}`,
        name: `plan estimate vs measured: ${c.label}`,
        value: `${error >= 0 ? '+' : ''}${error.toFixed(1)} %`,
        target: '|error| ≤ 25 %',
        met: Math.abs(error) <= 25,
        details: [line, `calibration: ${JSON.stringify({ ...cal, samples: undefined })}`, `probe samples: ${JSON.stringify(cal.samples)}`],
      });
    } finally {
      await sidecar?.stop();
      await deleteVhost(vhost);
    }
  }
  return figures;
}

// Run on its own: `node --import tsx bench/plan-estimate.ts` (after `npm run build`).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { runningNodes } = await import('./bench-support.js');
  for (const f of await planEstimate(await runningNodes())) {
    console.log(`[${f.id}] ${f.value} (target ${f.target}: ${f.met ? 'met' : 'MISSED'})`);
    for (const d of f.details) console.log(`    ${d}`);
  }
}
