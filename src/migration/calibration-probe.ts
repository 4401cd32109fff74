/**
 * The calibration probe: migrates a few throw-away mirrored queues on THIS cluster through the
 * engine's own per-queue workflow (QueueMigrator → BrokerQueueActions: save, temporary quorum
 * queue, two shovel moves, deletes, declare, verification, checkpoints) with the run's
 * concurrency, and times each queue (and its steps). Per move path (sidecar, shovel), three
 * groups, `concurrency` (at least 2) queues in flight:
 *   fixed     queues of FIXED_MESSAGES tiny messages                  → seconds every queue costs;
 *   messages  small bodies, many of them                              ┐ solved together for the
 *   bytes     large bodies, fewer                                     ┘ per-message and per-MiB terms.
 * On the shovel path the fixed cost is instead what the sized queues' steps other than the moves
 * took (a run's shovel queues take their fixed steps while heavy moves are in flight), and the
 * rates come from the two moves alone; the tiny group is kept as a sample.
 * Everything lives in a vhost of its own, `qmig.probe.plan.<random>`, created with the service
 * account and deleted afterwards (its queues, shovels and policy with it) also when the probe
 * fails: no tenant can see or disturb it. Checkpoints are written like a run's, so the probe pays
 * a run's state writes without
 * creating a migration record: one sealed parameter per queue, `qmig.probe.plan.<random>.<n>`, as
 * large as a run's smallest chunk of queue records (deleted afterwards).
 */
import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { enc } from '../broker/management-client.js';
import { PLAN_PROBE_VHOST_PREFIX } from '../broker/names.js';
import { logger } from '../logging.js';
import { timestamp, type MigrationRecord, type QueueRecord, type QueueStep } from '../state/records.js';
import { plannedQueue } from './status.js';
import { QueueMigrator } from './queue-runner.js';
import { CoalescingWriter } from './state-writer.js';
import { MIN_QUEUES_PER_CHUNK } from '../state/migration-store.js';
import { toleranceFor } from './verifier.js';
import { mapAtMost } from '../async/concurrency.js';
import { solveRates, type Calibration, type ProbeSample } from './estimate-model.js';
import type { MovePath } from './move-path.js';

const QUEUE_PREFIX = 'qmig.probe.plan.q';
const FIXED_MESSAGES = 10;
const TINY_BYTES = 100;
/** Sidecar path (sizes below any usual QMIG_SHOVEL_MIN_MESSAGES). */
const SIDECAR_SMALL = { messages: 900, bytes: 100 };
const SIDECAR_LARGE = { messages: 300, bytes: 32 * 1024 };
/** Shovel path: many small and fewer large bodies, each queue a few MiB or thousands of messages. */
const SHOVEL_SMALL = { messages: 4000, bytes: 100 };
const SHOVEL_LARGE = { messages: 1000, bytes: 8 * 1024 };
const MIB = 1024 * 1024;
/** A probe vhost older than this was left by a sidecar that died while probing (a probe takes well under a minute). */
export const STALE_PROBE_MS = 10 * 60_000;
const CREATED_TAG = 'qmig calibration probe, created ';

interface ProbeQueue {
  name: string;
  messages: number;
  bytes: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function sample(kind: ProbeSample['kind'], qs: ProbeQueue[], seconds: number[]): ProbeSample {
  return {
    kind,
    queues: qs.length,
    messages_per_queue: qs[0]?.messages ?? 0,
    bytes_per_message: qs[0]?.bytes ?? 0,
    mean_seconds: round3(mean(seconds)),
    min_seconds: round3(Math.min(...seconds)),
    max_seconds: round3(Math.max(...seconds)),
  };
}
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** A context whose engine takes `path` for every queue (the probe's queues are sized for one path each). */
function onPath(ctx: Context, path: MovePath): Context {
  return { ...ctx, config: { ...ctx.config, shovelMinMessages: path === 'shovel' ? 0 : Number.MAX_SAFE_INTEGER } };
}

export async function runCalibrationProbe(ctx: Context, runOverheadSeconds: number): Promise<Calibration> {
  const t0 = performance.now();
  const id = randomBytes(6).toString('hex');
  const vhost = `${PLAN_PROBE_VHOST_PREFIX}${id}`;
  const param = `${PLAN_PROBE_VHOST_PREFIX}${id}`;
  const concurrency = Math.max(2, ctx.config.concurrency);
  const log = logger.child({ probe_vhost: vhost });
  const mgmt = ctx.mgmt;
  const chunkParams: string[] = [];
  await deleteStaleProbeVhosts(ctx, Date.now()).catch((err) => log.warn('cannot list or delete stale probe vhosts', { error: (err as Error).message }));
  try {
    await mgmt.putVhost(vhost, { description: `${CREATED_TAG}${new Date().toISOString()}` });
    await mgmt.setPermission(vhost, ctx.config.user, { configure: '.*', write: '.*', read: '.*' });
    await mgmt.ok('PUT', `/policies/${enc(vhost)}/qmig.probe.ha`, {
      pattern: '^qmig\\.probe\\.plan\\.q',
      definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
      'apply-to': 'queues',
      priority: 0,
    });
    const nodes = (await mgmt.nodes()).filter((n) => n.running).map((n) => n.name);
    const group = (label: string, n: number, size: { messages: number; bytes: number }): ProbeQueue[] =>
      Array.from({ length: n }, (_, i) => ({ name: `${QUEUE_PREFIX}.${label}.${i}`, ...size }));
    const half = Math.max(1, Math.floor(concurrency / 2));
    const rest = Math.max(1, concurrency - half);
    const tiny = { messages: FIXED_MESSAGES, bytes: TINY_BYTES };
    const fixed = group('fixed', 2 * concurrency, tiny);
    const small = group('small', half, SIDECAR_SMALL);
    const large = group('large', rest, SIDECAR_LARGE);
    const shovelFixed = group('sfixed', concurrency, tiny);
    const shovelSmall = group('ssmall', half, SHOVEL_SMALL);
    const shovelLarge = group('slarge', rest, SHOVEL_LARGE);
    await prepare(ctx, vhost, [...fixed, ...small, ...large, ...shovelFixed, ...shovelSmall, ...shovelLarge], nodes);

    const record = probeRecord(vhost, id);
    // Like a run's state writer (state-writer.ts): one writer per chunk, a chunk as large as the
    // smallest a run writes (MIN_QUEUES_PER_CHUNK records like this queue's), sealed; queues in
    // flight sit in different chunks (the run interleaves them by node).
    let written = 0;
    const writerFor = (r: QueueRecord) => {
      const name = `${param}.${written++}`;
      chunkParams.push(name);
      return new CoalescingWriter(() =>
        ctx.store.params.put(
          name,
          Array.from({ length: MIN_QUEUES_PER_CHUNK }, () => r),
        ),
      );
    };
    const run = async (path: MovePath, qs: ProbeQueue[]): Promise<ProbeTiming[]> => {
      const pathCtx = onPath(ctx, path);
      const records = qs.map((q) => plannedQueue(q.name, vhost, q.messages, null));
      return mapAtMost(concurrency, records, async (r, i) => migrateOne(pathCtx, record, r, i, writerFor(r), log, nodes.length, param));
    };
    // Each path: its fixed cost (tiny queues), then its two sized groups at once (`concurrency`
    // queues in flight, as many as a run keeps moving).
    const whole = (ts: ProbeTiming[]) => ts.map((x) => x.seconds);
    const fixedSeconds = whole(await run('sidecar', fixed));
    const sized = whole(await run('sidecar', [...small, ...large]));
    const smallSeconds = sized.slice(0, small.length);
    const largeSeconds = sized.slice(small.length);
    const shovelFixedSeconds = whole(await run('shovel', shovelFixed));
    const shovelTimed = await run('shovel', [...shovelSmall, ...shovelLarge]);
    const shovelSized = whole(shovelTimed);
    const shovelSmallSeconds = shovelSized.slice(0, shovelSmall.length);
    const shovelLargeSeconds = shovelSized.slice(shovelSmall.length);

    const pathRates = (f: number, s: number[], sq: { messages: number; bytes: number }, l: number[], lq: { messages: number; bytes: number }) => {
      const r = solveRates(
        f,
        { seconds: mean(s), messages: sq.messages, mib: (sq.messages * sq.bytes) / MIB },
        { seconds: mean(l), messages: lq.messages, mib: (lq.messages * lq.bytes) / MIB },
      );
      return { fixed_seconds: round3(f), per_message_seconds: round6(r.per_message_seconds), per_mib_seconds: round3(r.per_mib_seconds) };
    };
    const sidecar = pathRates(mean(fixedSeconds), smallSeconds, SIDECAR_SMALL, largeSeconds, SIDECAR_LARGE);
    // A queue taking the shovel path holds at least QMIG_SHOVEL_MIN_MESSAGES: in a run its fixed
    // steps (declares, deletes, checks) run while other queues' heavy moves are in flight, which
    // slows them several-fold (measured: 5x the tiny queues' steps). So the shovel path's fixed
    // cost is what the sized queues' steps other than the moves took (their moves ran beside them),
    // and its rates come from the moves alone.
    const shovelFixedLoaded = mean(shovelTimed.map((x) => x.seconds - x.moveSeconds));
    const shovelMoves = shovelTimed.map((x) => x.moveSeconds);
    const shovel = {
      ...pathRates(0, shovelMoves.slice(0, shovelSmall.length), SHOVEL_SMALL, shovelMoves.slice(shovelSmall.length), SHOVEL_LARGE),
      fixed_seconds: round3(shovelFixedLoaded),
    };
    // Spread: half the relative range of the fixed group (same work, different times).
    const f = sidecar.fixed_seconds;
    const spread = f > 0 ? (Math.max(...fixedSeconds) - Math.min(...fixedSeconds)) / (2 * f) : 0;
    const calibration: Calibration = {
      calibrated_at: new Date().toISOString(),
      concurrency: ctx.config.concurrency,
      ...sidecar,
      shovel,
      shovel_min_messages: ctx.config.shovelMinMessages,
      run_overhead_seconds: round3(runOverheadSeconds),
      spread: round3(spread),
      probe_seconds: round3((performance.now() - t0) / 1000),
      probe_vhost: vhost,
      samples: [
        sample('fixed', fixed, fixedSeconds),
        sample('messages', small, smallSeconds),
        sample('bytes', large, largeSeconds),
        sample('shovel_fixed', shovelFixed, shovelFixedSeconds),
        sample('shovel_messages', shovelSmall, shovelSmallSeconds),
        sample('shovel_bytes', shovelLarge, shovelLargeSeconds),
      ],
    };
    log.info('calibration probe done', { ...calibration, samples: undefined });
    return calibration;
  } finally {
    await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`).catch((err) => log.warn('cannot delete the probe vhost', { error: (err as Error).message }));
    await mapAtMost(8, chunkParams, (name) => ctx.store.params.delete(name).catch(() => undefined));
  }
}

/** When a probe vhost was created (its description), null when it does not say. Pure. */
export function probeVhostCreatedAt(description: unknown): number | null {
  if (typeof description !== 'string' || !description.startsWith(CREATED_TAG)) return null;
  const t = Date.parse(description.slice(CREATED_TAG.length));
  return Number.isFinite(t) ? t : null;
}

/**
 * Probe vhosts a crashed sidecar left behind (its `finally` never ran): deleted when created
 * more than STALE_PROBE_MS ago, or when they carry no creation time (made by a version that did
 * not write one). Only the service account creates `qmig.probe.plan.*` vhosts (a tenant cannot
 * create a vhost), and a probe vhost holds nothing but throw-away probe queues: deleting one a
 * live probe still used would fail that probe only. Its checkpoint parameters (global,
 * `<probe vhost>.<n>`) are deleted with it.
 */
async function deleteStaleProbeVhosts(ctx: Context, now: number): Promise<void> {
  const stale = (await ctx.mgmt.vhosts()).filter((v) => {
    if (!v.name.startsWith(PLAN_PROBE_VHOST_PREFIX)) return false;
    const created = probeVhostCreatedAt((v as { description?: unknown }).description);
    return created === null || now - created > STALE_PROBE_MS;
  });
  if (stale.length === 0) return;
  const params = await ctx.store.params.names(PLAN_PROBE_VHOST_PREFIX);
  for (const v of stale) {
    logger.warn('deleting a calibration probe vhost left behind', { probe_vhost: v.name });
    await ctx.mgmt.deleteIfExists(`/vhosts/${enc(v.name)}`);
    await mapAtMost(
      8,
      params.filter((n) => n.startsWith(`${v.name}.`)),
      (n) => ctx.store.params.delete(n).catch(() => undefined),
    );
  }
}

/** A migration record that exists only in memory: the migrator's steps read its kind, options and fence. */
function probeRecord(vhost: string, id: string): MigrationRecord {
  const now = timestamp();
  return {
    id: `probe-${id}`,
    display_id: `probe-${id}`,
    vhost,
    node: 'probe',
    started_at: now,
    completed_at: null,
    total_queues: 0,
    completed_queues: 0,
    skipped_queues: 0,
    failed_queues: 0,
    status: 'in_progress',
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: {
      skip_unsuitable_queues: false,
      tolerance: null,
      batch_size: 'all',
      batch_order: 'smallest_first',
      queue_names: null,
      allow_message_ttl: false,
      set_default_queue_type: null,
    },
    owner: 'probe',
    queue_chunks: 0,
    interrupt_requested: false,
    notes: [],
    engine: {},
    updated_at: now,
  } as MigrationRecord;
}

async function migrateOne(
  ctx: Context,
  migration: MigrationRecord,
  q: QueueRecord,
  index: number,
  writer: CoalescingWriter,
  log: ReturnType<typeof logger.child>,
  runningNodes: number,
  interruptName: string,
): Promise<ProbeTiming> {
  const started = performance.now();
  // When each step began: the time of the two moves apart from the rest (the fixed steps).
  const steps: { step: QueueStep; at: number }[] = [];
  // What a run reads before each queue starts: its interrupt parameter (migration-run.ts).
  await ctx.store.params.text(interruptName);
  const migrator = new QueueMigrator(
    {
      ctx,
      mgmt: ctx.mgmt,
      migration,
      tolerance: toleranceFor(migration.options),
      writer: { checkpoint: () => writer.request(), touch: () => undefined },
      log,
      who: 'qmig:probe',
      audit: () => undefined,
      shouldAbort: () => false,
      preexistingTemporaryQueues: new Set(),
      runningNodes,
      hooks: { beforeStep: ({ step }) => void steps.push({ step, at: performance.now() }) },
    },
    q,
    index,
  );
  await migrator.run(false);
  if (q.status !== 'completed') throw new Error(`calibration probe: queue ${q.name} ended ${q.status}: ${q.error ?? ''}`);
  const ended = performance.now();
  let moving = 0;
  for (const [i, s] of steps.entries()) if (MOVE_STEPS.has(s.step)) moving += (steps[i + 1]?.at ?? ended) - s.at;
  return { seconds: (ended - started) / 1000, moveSeconds: moving / 1000 };
}

const MOVE_STEPS = new Set<QueueStep>(['move_to_temporary', 'move_to_quorum']);

interface ProbeTiming {
  /** The queue's whole migration. */
  seconds: number;
  /** Of which its two moves. */
  moveSeconds: number;
}

/** Declares the queues (masters spread over the nodes), fills them and waits until their mirrors are synchronised. */
async function prepare(ctx: Context, vhost: string, queues: ProbeQueue[], nodes: string[]): Promise<void> {
  await mapAtMost(8, queues, (q, i) => ctx.mgmt.declareQueue(vhost, q.name, { durable: true, arguments: {}, node: nodes[i % Math.max(1, nodes.length)] }));
  const conn = await ctx.amqp.openConnection(vhost, 'calibration probe');
  try {
    const ch = await conn.createConfirmChannel();
    for (const q of queues) {
      const body = Buffer.alloc(q.bytes, 'x');
      for (let i = 0; i < q.messages; i++) {
        if (!ch.sendToQueue(q.name, body, { persistent: true })) await new Promise((r) => ch.once('drain', r));
      }
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close().catch(() => undefined);
  }
  const until = Date.now() + 30_000;
  for (;;) {
    const qs = await ctx.mgmt.queues(vhost, ['name', 'messages', 'slave_nodes', 'synchronised_slave_nodes', 'effective_policy_definition']);
    const ready = qs.filter(
      (q) =>
        q.effective_policy_definition?.['ha-mode'] &&
        (nodes.length < 2 || ((q.slave_nodes?.length ?? 0) > 0 && (q.synchronised_slave_nodes?.length ?? 0) >= (q.slave_nodes?.length ?? 0))),
    );
    const counted = new Map(qs.map((q) => [q.name, q.messages ?? 0]));
    if (ready.length >= queues.length && queues.every((q) => counted.get(q.name) === q.messages)) return;
    if (Date.now() > until) throw new Error(`calibration probe: the probe queues were not mirrored and counted within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
