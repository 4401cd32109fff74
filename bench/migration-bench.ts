/**
 * Migration benchmark (not a test): `npm run bench`. Against the cluster given by
 *   QMIG_CLUSTER_MGMT_URLS / QMIG_CLUSTER_AMQP_URLS / QMIG_CLUSTER_NAME (as printed by
 *   `bash scripts/cluster.sh env --name test --offset 1000`, which is also the default),
 * it prints, in one run:
 *  (a) the in-place ratio: migration time of ONE mirrored queue of 100k × 100 B messages divided
 *      by the time of two bare shovel moves of the same data (classic → quorum → quorum, the
 *      least an in-place migration must do); target ≤ 1.15;
 *  (b) the time to migrate 500 mirrored queues × 100 messages; target ≤ 60 s.
 * Each part runs in a fresh vhost that is deleted afterwards. QMIG_MIGRATION_CONCURRENCY and
 * BENCH_MESSAGES / BENCH_QUEUES / BENCH_QUEUE_MESSAGES override the defaults.
 */
import amqplib from 'amqplib';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { enc, ManagementClient } from '../src/broker/management-client.js';
import { moveMessages } from '../src/broker/shovels.js';
import { loadConfig } from '../src/config/config.js';
import { createContext, type Context } from '../src/context.js';
import { runCheck } from '../src/checks/assessment.js';
import { MigrationService } from '../src/migration/migration-service.js';
import type { MigrationOptions } from '../src/state/records.js';

const MGMT_URLS = (process.env.QMIG_CLUSTER_MGMT_URLS ?? 'http://127.0.0.1:16672,http://127.0.0.1:16673,http://127.0.0.1:16674').split(',');
const AMQP_URLS = (
  process.env.QMIG_CLUSTER_AMQP_URLS ?? 'amqp://guest:guest@127.0.0.1:6672,amqp://guest:guest@127.0.0.1:6673,amqp://guest:guest@127.0.0.1:6674'
).split(',');
const USER = process.env.QMIG_USER ?? 'guest';
const PASSWORD = process.env.QMIG_PASSWORD ?? 'guest';
/** Seals the bench engine's state (any key: the bench reads back only what it wrote). */
const STATE_SECRET = process.env.QMIG_STATE_SECRET ?? 'qmig-bench-state-secret-for-local-runs-only';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const QUEUES = Number(process.env.BENCH_QUEUES ?? 500);
const QUEUE_MESSAGES = Number(process.env.BENCH_QUEUE_MESSAGES ?? 100);
const BODY = Buffer.alloc(100, 'x');

const mgmt = new ManagementClient({ baseUrl: MGMT_URLS[0], user: USER, password: PASSWORD, timeoutMs: 60_000 });
const seconds = (ms: number) => (ms / 1000).toFixed(2);

function amqpUrl(vhost: string, i = 0): string {
  const u = new URL(AMQP_URLS[i % AMQP_URLS.length]);
  u.username = encodeURIComponent(USER);
  u.password = encodeURIComponent(PASSWORD);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

async function nodeNames(): Promise<string[]> {
  return (await mgmt.nodes())
    .filter((n) => n.running)
    .map((n) => n.name)
    .sort();
}

async function freshVhost(label: string): Promise<string> {
  const vhost = `qmig-bench-${label}-${randomBytes(3).toString('hex')}`;
  await mgmt.putVhost(vhost);
  await mgmt.setPermission(vhost, USER, { configure: '.*', write: '.*', read: '.*' });
  // Mirrored like the NOTES measurements: exactly 2 copies, automatic sync.
  await mgmt.ok('PUT', `/policies/${enc(vhost)}/ha`, {
    pattern: '^bench',
    definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
    'apply-to': 'queues',
    priority: 0,
  });
  return vhost;
}

async function publishTo(vhost: string, counts: Map<string, number>, node = 0): Promise<void> {
  const conn = await amqplib.connect(amqpUrl(vhost, node));
  try {
    const ch = await conn.createConfirmChannel();
    let sent = 0;
    for (const [queue, n] of counts) {
      for (let i = 0; i < n; i++) {
        if (!ch.sendToQueue(queue, BODY, { persistent: true })) await new Promise((r) => ch.once('drain', r));
        if (++sent % 10_000 === 0) await ch.waitForConfirms();
      }
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function waitSynchronised(vhost: string): Promise<void> {
  for (;;) {
    const qs = await mgmt.queues(vhost, ['name', 'slave_nodes', 'synchronised_slave_nodes', 'type', 'effective_policy_definition']);
    const pending = qs.filter(
      (q) =>
        q.type !== 'quorum' &&
        (q.effective_policy_definition === undefined ||
          (q.slave_nodes?.length ?? 0) === 0 ||
          (q.synchronised_slave_nodes?.length ?? 0) < (q.slave_nodes?.length ?? 0)),
    );
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function engineContext(vhost: string): Context {
  const amqp = new URL(AMQP_URLS[0]);
  amqp.username = '';
  amqp.password = '';
  const config = loadConfig({
    QMIG_STATE_SECRET: STATE_SECRET,
    ...process.env,
    QMIG_MANAGEMENT_URL: MGMT_URLS[0],
    QMIG_AMQP_URL: amqp.toString().replace(/\/$/, ''),
    QMIG_USER: USER,
    QMIG_PASSWORD: PASSWORD,
    QMIG_STATE_VHOST: vhost,
    QMIG_RELAXED_CHECKS_WARN_ONLY: 'true',
    QMIG_LOG_LEVEL: process.env.QMIG_LOG_LEVEL ?? 'warn',
  });
  return createContext(config, 'bench');
}

const options = (queue_names: string[] | null): MigrationOptions => ({
  skip_unsuitable_queues: false,
  tolerance: null,
  batch_size: 'all',
  batch_order: 'smallest_first',
  queue_names,
  allow_message_ttl: false,
  set_default_queue_type: null,
});

async function migrate(
  ctx: Context,
  vhost: string,
  queueNames: string[] | null,
): Promise<{ ms: number; status: string; completed: number; error: string | null }> {
  const service = new MigrationService(ctx);
  const started = performance.now();
  const { migration_id } = await service.start(vhost, options(queueNames), { user: USER, tags: ['administrator'] }).catch(async (err) => {
    const report = await runCheck(ctx, vhost, { skip_unsuitable_queues: false, allow_message_ttl: false });
    console.error('start refused; failed checks:', JSON.stringify(report.system_checks.checks.filter((c) => c.status === 'failed')));
    const qs = await mgmt.queues(vhost);
    console.error('queues without ha policy now:', JSON.stringify(qs.filter((q) => !q.effective_policy_definition?.['ha-mode']).slice(0, 3)));
    throw err;
  });
  await service.whenFinished(migration_id);
  const ms = performance.now() - started;
  const record = (await ctx.store.loadRecord(migration_id))!;
  await ctx.store.delete(record);
  return { ms, status: record.status, completed: record.completed_queues, error: record.error };
}

async function partA(nodes: string[]): Promise<{ ratio: number; baseMs: number; migMs: number }> {
  const vhost = await freshVhost('a');
  const ctx = engineContext(vhost);
  try {
    await mgmt.declareQueue(vhost, 'bench-base', { durable: true, arguments: {}, node: nodes[0] });
    await mgmt.declareQueue(vhost, 'bench-mig', { durable: true, arguments: {}, node: nodes[0] });
    // The same queues the engine uses: a temporary quorum queue with as many copies as the
    // classic queue had (2: exactly-2 mirroring), then a quorum queue with the default membership.
    await mgmt.declareQueue(vhost, 'base.temporary', {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 },
      node: nodes[0],
    });
    await mgmt.declareQueue(vhost, 'base.final', { durable: true, arguments: { 'x-queue-type': 'quorum' }, node: nodes[0] });
    console.log(`(a) publishing 2 × ${MESSAGES} × ${BODY.length} B …`);
    await publishTo(
      vhost,
      new Map([
        ['bench-base', MESSAGES],
        ['bench-mig', MESSAGES],
      ]),
    );
    await waitSynchronised(vhost);

    const move = (source: string, destination: string) =>
      moveMessages(ctx.mgmt, ctx.amqp, { vhost, name: `bench-${source}`, source, destination, startTimeoutMs: 30_000, timeoutMs: 600_000 });
    const t0 = performance.now();
    const m1 = await move('bench-base', 'base.temporary');
    const m2 = await move('base.temporary', 'base.final');
    const baseMs = performance.now() - t0;
    if (m2.destinationCount !== MESSAGES) throw new Error(`baseline moved ${m2.destinationCount} of ${MESSAGES}`);
    console.log(`(a) two bare shovel moves: ${seconds(m1.durationMs)} s + ${seconds(m2.durationMs)} s = ${seconds(baseMs)} s`);

    const mig = await migrate(ctx, vhost, ['bench-mig']);
    if (mig.status !== 'completed') throw new Error(`migration ended ${mig.status}: ${mig.error}`);
    const count = await ctx.amqp.messageCount(vhost, 'bench-mig');
    if (count !== MESSAGES) throw new Error(`migrated queue holds ${count} of ${MESSAGES}`);
    console.log(`(a) migration of the same queue: ${seconds(mig.ms)} s`);
    return { ratio: mig.ms / baseMs, baseMs, migMs: mig.ms };
  } finally {
    await ctx.amqp.close();
    await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`);
  }
}

async function partB(nodes: string[]): Promise<{ ms: number; completed: number }> {
  const vhost = await freshVhost('b');
  const ctx = engineContext(vhost);
  try {
    const names = Array.from({ length: QUEUES }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
    console.log(`(b) declaring ${QUEUES} mirrored queues, publishing ${QUEUE_MESSAGES} messages to each …`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((n, k) => mgmt.declareQueue(vhost, n, { durable: true, arguments: {}, node: nodes[(i + k) % nodes.length] })),
      );
    }
    await publishTo(vhost, new Map(names.map((n) => [n, QUEUE_MESSAGES])));
    await waitSynchronised(vhost);
    const masters: Record<string, number> = {};
    for (const q of await mgmt.queues(vhost, ['name', 'node'])) masters[q.node ?? '?'] = (masters[q.node ?? '?'] ?? 0) + 1;
    console.log(`(b) masters per node: ${JSON.stringify(masters)}`);
    const mig = await migrate(ctx, vhost, null);
    if (mig.status !== 'completed' || mig.completed !== QUEUES) throw new Error(`migration ended ${mig.status} with ${mig.completed} queues: ${mig.error}`);
    return { ms: mig.ms, completed: mig.completed };
  } finally {
    await ctx.amqp.close();
    await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`);
  }
}

const nodes = await nodeNames();
const concurrency = loadConfig({ QMIG_STATE_SECRET: STATE_SECRET, ...process.env }).concurrency;
console.log(
  `qmig migration benchmark: ${MGMT_URLS[0]} (${nodes.length} nodes), os.availableParallelism() = ${os.availableParallelism()}, migration concurrency = ${concurrency}`,
);
const a = await partA(nodes);
const b = await partB(nodes);
console.log('');
console.log(
  `(a) ${MESSAGES} × ${BODY.length} B, one mirrored queue: migration ${seconds(a.migMs)} s / two bare shovel moves ${seconds(a.baseMs)} s = ratio ${a.ratio.toFixed(3)} (target ≤ 1.15)`,
);
console.log(`(b) ${QUEUES} mirrored queues × ${QUEUE_MESSAGES} messages: ${seconds(b.ms)} s (target ≤ 60 s), ${b.completed} queues completed`);
console.log(`os.availableParallelism() = ${os.availableParallelism()}, concurrency = ${concurrency}`);
