/**
 * Figure 7 of `npm run bench:all` (issue 20): where the broker's CPU goes per migrated queue.
 * 1. A real run: QUEUES mirrored queues × MESSAGES messages migrated by a sidecar process; the
 *    broker nodes' CPU (user+system of their beam.smp, minus their idle rate measured just before)
 *    divided by the queues, and the sidecar's management API calls per queue (its own metrics).
 * 2. The same operations one kind at a time, `concurrency` in flight like a run, each timed by the
 *    broker CPU it costs: declare a quorum queue, delete one, delete a mirrored classic queue, move
 *    MESSAGES messages between two queues over AMQP (the sidecar path a queue this small takes,
 *    confirm then ack), read one queue's statistics, write a global parameter (a state write).
 * 3. The composition: per queue, what a migration does of each (two quorum declares, one quorum and
 *    one mirrored delete, two moves, the reads and parameter writes the run made), its CPU and its
 *    share; the rest of the measured per-queue CPU is shown as "other" (connections, channels,
 *    statistics emission of queues that exist for a while, policy application).
 * 4. Before and after: the real run of 1. with this build and with BENCH_CPU_BASELINE's (a git
 *    revision, built in a worktree by baseline-build.ts; default 1a1cca0, the code before issue
 *    20's cuts; `none` skips it), alternating which goes first over BENCH_CPU_AB_ROUNDS rounds
 *    (default 2), each on a fresh vhost, both without the start's calibration probe: the broker
 *    CPU per queue and the run's wall time of each (medians) and their ratios.
 * All in fresh vhosts, removed at the end. BENCH_CPU_QUEUES / BENCH_CPU_OPS change the sizes.
 */
import amqplib from 'amqplib';
import { randomBytes } from 'node:crypto';
import { enc } from '../src/broker/management-client.js';
import { mapAtMost } from '../src/async/concurrency.js';
import { loadConfig } from '../src/config/config.js';
import {
  amqpUrl,
  brokerPids,
  cpuSecondsOf,
  declareQueues,
  deleteVhost,
  freshVhost,
  managementCallCounts,
  mgmt,
  migrateThroughSidecar,
  publishTo,
  sleep,
  STATE_SECRET,
  startSidecarProcess,
  waitMirrored,
  type SidecarProcess,
} from './bench-support.js';
import type { Figure } from './figure.js';
import { prepareBaseline } from './baseline-build.js';

const QUEUES = Number(process.env.BENCH_CPU_QUEUES ?? 100);
const OPS = Number(process.env.BENCH_CPU_OPS ?? 60);
const MESSAGES = 100;
const BODY = Buffer.alloc(100, 'c');

const BASELINE = process.env.BENCH_CPU_BASELINE ?? '1a1cca0';
const AB_ROUNDS = Number(process.env.BENCH_CPU_AB_ROUNDS ?? 2);

const brokerCpu = (pids: number[]) => pids.reduce((s, p) => s + cpuSecondsOf(p), 0);

/** Broker CPU-seconds above the idle rate that `work` costs. */
async function measure(pids: number[], idlePerSecond: number, work: () => Promise<unknown>): Promise<number> {
  const c0 = brokerCpu(pids);
  const t0 = performance.now();
  await work();
  // Work the broker does right after the calls return (queue deletion, statistics) is counted too.
  await sleep(1000);
  const elapsed = (performance.now() - t0) / 1000;
  return Math.max(0, brokerCpu(pids) - c0 - idlePerSecond * elapsed);
}

async function idleRate(pids: number[]): Promise<number> {
  const c0 = brokerCpu(pids);
  await sleep(5000);
  return (brokerCpu(pids) - c0) / 5;
}

/** Management API requests by "METHOD endpoint" the sidecar made (its /metrics). */
async function managementCalls(url: string): Promise<Map<string, number>> {
  return managementCallCounts(await (await fetch(`${url}/metrics`)).text());
}

/** Moves every message of `from` into `to` over one channel pair: publish with confirms, then ack. */
async function move(conn: amqplib.ChannelModel, from: string, to: string, count: number): Promise<void> {
  const src = await conn.createChannel();
  const dst = await conn.createConfirmChannel();
  try {
    await src.prefetch(count);
    let got = 0;
    await new Promise<void>((resolve, reject) => {
      void src.consume(from, (m) => {
        if (!m) return;
        dst.sendToQueue(to, m.content, m.properties);
        if (++got === count)
          dst
            .waitForConfirms()
            .then(() => src.ack(m, true))
            .then(resolve, reject);
      });
    });
  } finally {
    await src.close().catch(() => undefined);
    await dst.close().catch(() => undefined);
  }
}

interface RunSample {
  /** The brokers' idle rate before the run (CPU-s/s). */
  idle: number;
  cpuPerQueue: number;
  ms: number;
  calls: Map<string, number>;
}

/** One run of QUEUES × MESSAGES by the build at `root` (this one: undefined), in a fresh vhost. */
async function measuredRun(nodes: string[], pids: number[], root: string | undefined): Promise<RunSample> {
  const vhost = await freshVhost('cpu-ab');
  let sidecar: SidecarProcess | null = null;
  try {
    const names = Array.from({ length: QUEUES }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
    await declareQueues(vhost, names, nodes.length);
    await publishTo(vhost, new Map(names.map((n) => [n, MESSAGES])), BODY);
    await waitMirrored(vhost, QUEUES);
    sidecar = await startSidecarProcess(vhost, { QMIG_PLAN_ESTIMATE_AT_START: 'false' }, root ? { root } : {});
    const idle = await idleRate(pids);
    const calls0 = await managementCalls(sidecar.url);
    const runs: Awaited<ReturnType<typeof migrateThroughSidecar>>[] = [];
    const cpu = await measure(pids, idle, async () => runs.push(await migrateThroughSidecar(sidecar!.url, vhost)));
    const calls1 = await managementCalls(sidecar.url);
    if (runs[0]?.status !== 'completed') throw new Error(`the run ended ${runs[0]?.status}: ${runs[0]?.error}`);
    return { idle, cpuPerQueue: cpu / QUEUES, ms: runs[0].ms, calls: new Map([...calls1].map(([k, n]) => [k, (n - (calls0.get(k) ?? 0)) / QUEUES])) };
  } finally {
    await sidecar?.stop();
    await deleteVhost(vhost);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Part 4: this build against the baseline's, alternating, in one run of the benchmark. */
async function beforeAndAfter(nodes: string[], pids: number[]): Promise<string[]> {
  if (BASELINE === 'none') return ['before and after: skipped (BENCH_CPU_BASELINE=none)'];
  const base = prepareBaseline(BASELINE);
  const samples: Record<'before' | 'after', RunSample[]> = { before: [], after: [] };
  for (let round = 0; round < AB_ROUNDS; round++) {
    const order: Array<'before' | 'after'> = round % 2 === 0 ? ['after', 'before'] : ['before', 'after'];
    for (const which of order) samples[which].push(await measuredRun(nodes, pids, which === 'before' ? base.root : undefined));
  }
  const cpu = (w: 'before' | 'after') => median(samples[w].map((x) => x.cpuPerQueue));
  const wall = (w: 'before' | 'after') => median(samples[w].map((x) => x.ms)) / 1000;
  const calls = (w: 'before' | 'after') => {
    const keys = new Set(samples[w].flatMap((x) => [...x.calls.keys()]));
    return [...keys]
      .map((k) => [k, median(samples[w].map((x) => x.calls.get(k) ?? 0))] as const)
      .filter(([, n]) => n >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n.toFixed(1)}`)
      .join(', ');
  };
  const each = (w: 'before' | 'after') => samples[w].map((x) => `${(x.cpuPerQueue * 1000).toFixed(0)} ms/${(x.ms / 1000).toFixed(1)} s`).join(', ');
  return [
    `before (${base.rev}) and after (this build), ${AB_ROUNDS} round(s) alternating, no start probe: broker CPU per queue ${(cpu('before') * 1000).toFixed(1)} → ${(cpu('after') * 1000).toFixed(1)} ms (× ${(cpu('after') / cpu('before')).toFixed(2)}), run ${wall('before').toFixed(1)} → ${wall('after').toFixed(1)} s (× ${(wall('after') / wall('before')).toFixed(2)})`,
    `  each run, before: ${each('before')}; after: ${each('after')}`,
    `  management calls per queue, before: ${calls('before')}`,
    `  management calls per queue, after: ${calls('after')}`,
  ];
}

export async function brokerCpuBreakdown(nodes: string[]): Promise<Figure[]> {
  const pids = brokerPids();
  if (pids.length === 0) throw new Error('no broker process of the cluster found (QMIG_CLUSTER_NAME)');
  const concurrency = loadConfig({ QMIG_STATE_SECRET: STATE_SECRET, ...process.env }).concurrency;
  const opsVhost = await freshVhost('cpu-ops');
  const params: string[] = [];
  try {
    // 1. The real run (in a vhost of its own, removed after it: the operations below are timed
    // without its queues, against the idle rate measured then).
    const run = await measuredRun(nodes, pids, undefined);
    const count = (re: RegExp) => [...run.calls].filter(([k]) => re.test(k)).reduce((s, [, n]) => s + n, 0);
    const reads = count(/^GET /);
    const paramWrites = count(/^PUT global-parameters/);
    const idle = await idleRate(pids);

    // 2. One kind at a time, `concurrency` in flight.
    const ids = Array.from({ length: OPS }, (_, i) => i);
    const each = async (work: (i: number) => Promise<unknown>) => (await measure(pids, idle, () => mapAtMost(concurrency, ids, work))) / OPS;
    const quorumDeclare = await each((i) => mgmt.ok('PUT', `/queues/${enc(opsVhost)}/q.${i}`, { durable: true, arguments: { 'x-queue-type': 'quorum' } }));
    const quorumDelete = await each((i) => mgmt.ok('DELETE', `/queues/${enc(opsVhost)}/q.${i}`));
    const mirrored = ids.map((i) => `bench-m.${i}`);
    await declareQueues(opsVhost, mirrored, nodes.length);
    await waitMirrored(opsVhost, OPS);
    const mirroredDelete = await each((i) => mgmt.ok('DELETE', `/queues/${enc(opsVhost)}/bench-m.${i}`));
    const pairs = ids.flatMap((i) => [`bench-a.${i}`, `bench-b.${i}`]);
    await declareQueues(opsVhost, pairs, nodes.length);
    await publishTo(opsVhost, new Map(ids.map((i) => [`bench-a.${i}`, MESSAGES])), BODY);
    const conns = await Promise.all(nodes.map((_, i) => amqplib.connect(amqpUrl(opsVhost, i))));
    const moveCost = await each((i) => move(conns[i % conns.length], `bench-a.${i}`, `bench-b.${i}`, MESSAGES));
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    const read = await each((i) => mgmt.ok('GET', `/queues/${enc(opsVhost)}/bench-b.${i}`));
    const tag = randomBytes(3).toString('hex');
    const record = { chunk: 'x'.repeat(2048) };
    const write = await each((i) => {
      const name = `qmig.bench.cpu.${tag}.${i % concurrency}`;
      if (!params.includes(name)) params.push(name);
      return mgmt.ok('PUT', `/global-parameters/${enc(name)}`, { name, value: record });
    });

    // 4. Before and after (its own vhosts).
    const comparison = await beforeAndAfter(nodes, pids);

    // 3. The composition per migrated queue.
    const perQueue = run.cpuPerQueue;
    const parts: [string, number, number][] = [
      ['quorum queue declares (temporary, final)', 2, quorumDeclare],
      ['quorum queue delete (temporary)', 1, quorumDelete],
      ['mirrored classic queue delete', 1, mirroredDelete],
      [`moves of ${MESSAGES} messages over AMQP (in, out)`, 2, moveCost],
      ['management API reads', reads, read],
      ['state writes (global parameters)', paramWrites, write],
    ];
    const explained = parts.reduce((s, [, n, c]) => s + n * c, 0);
    const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
    const pct = (s: number) => `${((100 * s) / Math.max(perQueue, 1e-9)).toFixed(0)} %`;
    return [
      {
        id: '7',
        name: `broker CPU per migrated queue (${QUEUES} mirrored queues × ${MESSAGES} messages), by operation`,
        value: ms(perQueue),
        target: 'a breakdown (issue 20: cut it)',
        met: true,
        details: [
          `run: ${(run.ms / 1000).toFixed(1)} s, broker CPU above idle ${(run.cpuPerQueue * QUEUES).toFixed(1)} s over ${pids.length} nodes (idle ${run.idle.toFixed(2)} CPU-s/s before the run, ${idle.toFixed(2)} before the operations)`,
          ...parts.map(([label, n, c]) => `${label}: ${n.toFixed(1)} × ${ms(c)} = ${ms(n * c)} (${pct(n * c)})`),
          `other (connections, channels, statistics of queues while they exist, policy application): ${ms(Math.max(0, perQueue - explained))} (${pct(Math.max(0, perQueue - explained))})`,
          `management calls per queue in the run: ${[...run.calls]
            .filter(([, n]) => n > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([k, n]) => `${k} ${n.toFixed(1)}`)
            .join(', ')}`,
          ...comparison,
        ],
      },
    ];
  } finally {
    for (const p of params) await mgmt.deleteIfExists(`/global-parameters/${enc(p)}`).catch(() => undefined);
    await deleteVhost(opsVhost);
  }
}
