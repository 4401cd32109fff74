/**
 * Shared set-up of the migration engine tests (test/integration/migration-*.test.ts): an engine
 * Context on the test cluster whose state vhost is the test's own vhost (locks per test), mirrored
 * queues with chosen masters, and waiting for a migration's end.
 */
import amqplib from 'amqplib';
import type { TestContext } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { loadConfig } from '../../src/config/config.js';
import { createContext, type Context } from '../../src/context.js';
import type { MigrationRecord, MigrationOptions, QueueRecord } from '../../src/state/records.js';
import { admin, amqpUrl, cluster, repairNodeStatistics } from '../support/cluster.js';
import { fingerprintOf } from '../support/messages.js';
import { TEST_STATE_SECRET } from '../support/state-secret.js';

type After = Pick<TestContext, 'after'> | { after(fn: () => unknown): void };

/** A Context like a sidecar beside node `node` would build, with `vhost` holding the locks. */
export function engineContext(t: After, vhost: string, env: Record<string, string> = {}, node = 0): Context {
  const amqp = new URL(cluster.amqpUrls[node]);
  amqp.username = '';
  amqp.password = '';
  const config = loadConfig({
    QMIG_MANAGEMENT_URL: cluster.managementUrls[node],
    QMIG_AMQP_URL: amqp.toString().replace(/\/$/, ''),
    QMIG_USER: cluster.user,
    QMIG_PASSWORD: cluster.password,
    QMIG_STATE_SECRET: TEST_STATE_SECRET,
    QMIG_STATE_VHOST: vhost,
    // 3.10.8 has no relaxed-redeclaration setting: the check would refuse every start.
    QMIG_RELAXED_CHECKS_WARN_ONLY: 'true',
    QMIG_SHOVEL_START_TIMEOUT_SECONDS: '20',
    QMIG_SHOVEL_TIMEOUT_SECONDS: '120',
    // Starts do not run the plan's calibration probe (10 s) unless a test asks for it (plan.test.ts).
    QMIG_PLAN_ESTIMATE_AT_START: 'false',
    ...env,
  });
  const ctx = createContext(config, cluster.nodeNames[node]);
  t.after(() => ctx.amqp.close());
  return ctx;
}

export function startOptions(overrides: Partial<MigrationOptions> = {}): MigrationOptions {
  return {
    skip_unsuitable_queues: false,
    tolerance: null,
    batch_size: 'all',
    batch_order: 'smallest_first',
    queue_names: null,
    allow_message_ttl: false,
    set_default_queue_type: null,
    ...overrides,
  };
}

export const caller = { user: 'guest', tags: ['administrator'] };

/** Declares a durable classic queue with its master on node `node` (0-based). */
export async function classicQueue(vhost: string, name: string, args: Record<string, unknown> = {}, node = 0): Promise<void> {
  await admin().declareQueue(vhost, name, { durable: true, arguments: args, node: cluster.nodeNames[node] });
}

/** Waits until every mirrored queue of the vhost has all its mirrors synchronised. */
export async function waitSynchronised(vhost: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastRepair = Date.now();
  for (;;) {
    const queues = await admin().queues(vhost);
    const pending = queues.filter(
      (q) =>
        q.type !== 'quorum' &&
        q.effective_policy_definition?.['ha-mode'] !== undefined &&
        ((q.slave_nodes?.length ?? 0) === 0 || (q.synchronised_slave_nodes?.length ?? 0) < (q.slave_nodes?.length ?? 0)),
    );
    if (pending.length === 0 && queues.every((q) => q.type === 'quorum' || q.effective_policy_definition !== undefined)) return;
    if (Date.now() > deadline) throw new Error(`mirrors not synchronised: ${pending.map((q) => q.name).join(', ')}`);
    // Queue rows without statistics: a node may have lost its management agent (3.10 bug).
    if (pending.length === 0 && Date.now() - lastRepair > 5_000) {
      lastRepair = Date.now();
      await repairNodeStatistics();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls the stored record until its status is one of `statuses`. */
export async function waitForStatus(
  ctx: Context,
  id: string,
  statuses: MigrationRecord['status'][],
  timeoutMs = 120_000,
): Promise<{ record: MigrationRecord; queues: QueueRecord[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await ctx.store.loadRecord(id);
    if (record && statuses.includes(record.status)) return { record, queues: await ctx.store.loadQueues(record) };
    if (Date.now() > deadline) throw new Error(`migration ${id} did not reach ${statuses.join('/')} (now ${record?.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes every migration record and interrupt flag the test created (records are cluster-wide). */
/**
 * An engine context for `vhost` and the ids of the runs a test starts with it: their records and
 * interrupt flags are removed when the test ends (push every id the test starts).
 */
export function engineSession(t: After, vhost: string, env: Record<string, string> = {}, node = 0): { ctx: Context; ids: string[] } {
  const ctx = engineContext(t, vhost, env, node);
  const ids: string[] = [];
  cleanupRecords(
    t,
    () => ctx,
    () => ids,
  );
  return { ctx, ids };
}

export function cleanupRecords(t: After, ctx: () => Context, ids: () => string[]): void {
  t.after(async () => {
    const c = ctx();
    for (const id of ids()) {
      const r = await c.store.loadRecord(id).catch(() => null);
      if (r) await c.store.delete(r).catch(() => undefined);
      await c.mgmt.deleteGlobalParameter(`qmig.interrupt.${id}`).catch(() => undefined);
    }
  });
}

/** Shovel parameters of the vhost (none may be left behind). */
export async function shovelsOf(vhost: string): Promise<string[]> {
  const params = await admin().ok<Array<{ name: string }>>('GET', `/parameters/shovel/${enc(vhost)}`);
  return params.map((p) => p.name);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The same fingerprint as test/support/messages.ts `fingerprint`, read with a consumer instead of
 * basic.get (a quorum queue with single-active-consumer refuses basic.get). Messages are not
 * acknowledged, so they go back to the queue when the connection closes.
 */
export async function consumeFingerprint(vhost: string, queue: string, expected: number): Promise<string[]> {
  const conn = await amqplib.connect(amqpUrl(vhost));
  const out: string[] = [];
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${expected} messages consumed from ${queue}`)), 30_000);
      const done = () => {
        if (out.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      };
      void ch
        .consume(
          queue,
          (msg) => {
            if (!msg) return;
            out.push(fingerprintOf(msg));
            done();
          },
          { noAck: false },
        )
        .then(done, reject);
    });
  } finally {
    await conn.close().catch(() => undefined);
  }
  return out.sort();
}
