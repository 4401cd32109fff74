/**
 * The calibration probe: migrates a few throw-away mirrored queues on THIS cluster through the
 * engine's own per-queue workflow (QueueMigrator → BrokerQueueActions: save, temporary quorum
 * queue, two shovel moves, deletes, declare, verification, checkpoints) with the run's
 * concurrency, and times each queue. Three groups, `concurrency` (at least 2) queues in flight:
 *   fixed     2 × concurrency queues of FIXED_MESSAGES tiny messages  → seconds every queue costs;
 *   messages  small bodies (SMALL_BYTES), many of them               ┐ solved together for the
 *   bytes     large bodies (LARGE_BYTES), fewer                       ┘ per-message and per-MiB terms.
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
import { timestamp, type MigrationRecord, type QueueRecord } from '../state/records.js';
import { plannedQueue } from './status.js';
import { QueueMigrator } from './queue-runner.js';
import { CoalescingWriter } from './state-writer.js';
import { MIN_QUEUES_PER_CHUNK } from '../state/migration-store.js';
import { toleranceFor } from './verifier.js';
import { mapAtMost } from '../async/concurrency.js';
import { solveRates, type Calibration, type ProbeSample } from './estimate-model.js';

const QUEUE_PREFIX = 'qmig.probe.plan.q';
const FIXED_MESSAGES = 10;
const TINY_BYTES = 100;
const SMALL_MESSAGES = 3000;
const SMALL_BYTES = 100;
const LARGE_MESSAGES = 300;
const LARGE_BYTES = 32 * 1024;
const MIB = 1024 * 1024;

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

export async function runCalibrationProbe(ctx: Context, runOverheadSeconds: number): Promise<Calibration> {
  const t0 = performance.now();
  const id = randomBytes(6).toString('hex');
  const vhost = `${PLAN_PROBE_VHOST_PREFIX}${id}`;
  const param = `${PLAN_PROBE_VHOST_PREFIX}${id}`;
  const concurrency = Math.max(2, ctx.config.concurrency);
  const log = logger.child({ probe_vhost: vhost });
  const mgmt = ctx.mgmt;
  const chunkParams: string[] = [];
  try {
    await mgmt.putVhost(vhost);
    await mgmt.setPermission(vhost, ctx.config.user, { configure: '.*', write: '.*', read: '.*' });
    await mgmt.ok('PUT', `/policies/${enc(vhost)}/qmig.probe.ha`, {
      pattern: '^qmig\\.probe\\.plan\\.q',
      definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
      'apply-to': 'queues',
      priority: 0,
    });
    const nodes = (await mgmt.nodes()).filter((n) => n.running).map((n) => n.name);
    const group = (label: string, n: number, messages: number, bytes: number): ProbeQueue[] =>
      Array.from({ length: n }, (_, i) => ({ name: `${QUEUE_PREFIX}.${label}.${i}`, messages, bytes }));
    const fixed = group('fixed', 2 * concurrency, FIXED_MESSAGES, TINY_BYTES);
    const half = Math.max(1, Math.floor(concurrency / 2));
    const small = group('small', half, SMALL_MESSAGES, SMALL_BYTES);
    const large = group('large', Math.max(1, concurrency - half), LARGE_MESSAGES, LARGE_BYTES);
    await prepare(ctx, vhost, [...fixed, ...small, ...large], nodes);

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
    const run = async (qs: ProbeQueue[]): Promise<number[]> => {
      const records = qs.map((q) => plannedQueue(q.name, vhost, q.messages, null));
      return mapAtMost(concurrency, records, async (r, i) => migrateOne(ctx, record, r, i, writerFor(r), log, nodes.length, param));
    };
    const fixedSeconds = await run(fixed);
    const sized = await run([...small, ...large]);
    const smallSeconds = sized.slice(0, small.length);
    const largeSeconds = sized.slice(small.length);

    const f = mean(fixedSeconds) - 0; // tiny messages: their move time is part of the fixed cost
    const rates = solveRates(
      f,
      { seconds: mean(smallSeconds), messages: SMALL_MESSAGES, mib: (SMALL_MESSAGES * SMALL_BYTES) / MIB },
      { seconds: mean(largeSeconds), messages: LARGE_MESSAGES, mib: (LARGE_MESSAGES * LARGE_BYTES) / MIB },
    );
    // Spread: half the relative range of the fixed group (same work, different times).
    const spread = f > 0 ? (Math.max(...fixedSeconds) - Math.min(...fixedSeconds)) / (2 * f) : 0;
    const calibration: Calibration = {
      calibrated_at: new Date().toISOString(),
      concurrency: ctx.config.concurrency,
      fixed_seconds: round3(f),
      per_message_seconds: rates.per_message_seconds,
      per_mib_seconds: round3(rates.per_mib_seconds),
      run_overhead_seconds: round3(runOverheadSeconds),
      spread: round3(spread),
      probe_seconds: round3((performance.now() - t0) / 1000),
      probe_vhost: vhost,
      samples: [sample('fixed', fixed, fixedSeconds), sample('messages', small, smallSeconds), sample('bytes', large, largeSeconds)],
    };
    log.info('calibration probe done', { ...calibration, samples: undefined });
    return calibration;
  } finally {
    await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`).catch((err) => log.warn('cannot delete the probe vhost', { error: (err as Error).message }));
    await mapAtMost(8, chunkParams, (name) => ctx.store.params.delete(name).catch(() => undefined));
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
): Promise<number> {
  const started = performance.now();
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
    },
    q,
    index,
  );
  await migrator.run(false);
  if (q.status !== 'completed') throw new Error(`calibration probe: queue ${q.name} ended ${q.status}: ${q.error ?? ''}`);
  return (performance.now() - started) / 1000;
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
