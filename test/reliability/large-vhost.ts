/**
 * The populated set-up shared by the large-run suites (large-kill-*.test.ts, resume-faults.test.ts;
 * issue 13): a vhost of mirrored classic queues, most holding thousands of persistent messages
 * and the rest empty, bound to a topic and a headers exchange, some with x-max-length or a
 * dead-letter exchange; an application user fenced out during the run; the integrity baseline.
 * Also what the suites do to a sidecar running such a migration: start it, wait until a number of
 * queues completed, and the status of the run.
 */
import { shovelConsumedQueues } from '../../src/broker/shovel-leftovers.js';
import { testSeal } from '../support/state-secret.js';
import assert from 'node:assert/strict';
import { enc } from '../../src/broker/management-client.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin } from '../support/cluster.js';
import { publish, type TestMessage } from '../support/messages.js';
import { takeBaseline } from '../support/integrity.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, waitSynchronised } from '../integration/migration-support.js';
import { apiJson, sleep, type PreparedVhost } from './reliability-support.js';

type After = { after(fn: () => unknown): void };

export interface LargeVhostSpec {
  /** Queues holding `messages` each. */
  full: number;
  messages: number;
  empty: number;
}

/** The issue's run: 40 queues, 30 × 3,000 persistent messages, 10 empty. */
export const ISSUE_RUN: LargeVhostSpec = { full: 30, messages: 3000, empty: 10 };

const TOPIC = 'orders.topic';
const HEADERS = 'orders.headers';
const DLX = 'orders.dlx';

export const queueName = (i: number) => `q${String(i).padStart(2, '0')}`;

/** Persistent messages with a few properties and headers (fingerprinted by the integrity check). */
function messagesFor(queue: string, n: number): TestMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    body: `${queue}-${i}-${'p'.repeat(i % 40)}`,
    properties: { persistent: true, messageId: `${queue}-${i}`, contentType: 'text/plain', priority: i % 3, headers: { n: i, queue } },
  }));
}

export async function prepareLargeVhost(t: After, spec: LargeVhostSpec = ISSUE_RUN): Promise<PreparedVhost & { queues: string[] }> {
  const vhost = await testVhost(t);
  const mgmt = admin();
  await mirrorPolicy(vhost, '^q');
  const user = await testUser(t, ['management'], []);
  await mgmt.setPermission(vhost, user.user, { configure: '^app\\.', write: '.*', read: '^q' });
  for (const [name, type] of [
    [TOPIC, 'topic'],
    [HEADERS, 'headers'],
    [DLX, 'fanout'],
  ] as const) {
    await mgmt.declareExchange(vhost, name, { type, durable: true, auto_delete: false, internal: false, arguments: {} });
  }
  const total = spec.full + spec.empty;
  const queues = Array.from({ length: total }, (_, i) => queueName(i));
  for (let i = 0; i < total; i++) {
    const q = queues[i];
    const args: Record<string, unknown> = {};
    if (i % 4 === 1) args['x-max-length'] = 100_000;
    if (i % 5 === 2) args['x-dead-letter-exchange'] = DLX;
    await classicQueue(vhost, q, args, i % 3);
    await mgmt.bindQueue(vhost, TOPIC, q, `orders.${q}.#`, {});
    await mgmt.bindQueue(vhost, HEADERS, q, '', { 'x-match': 'all', queue: q });
  }
  const full = queues.slice(0, spec.full);
  for (let i = 0; i < full.length; i += 6) {
    await Promise.all(full.slice(i, i + 6).map((q) => publish(vhost, { queue: q }, messagesFor(q, spec.messages), Number(q.slice(1)) % 3)));
  }
  await waitSynchronised(vhost, 120_000);
  const baseline = await takeBaseline(vhost, queues, [user.user]);
  return { vhost, users: [user], baseline, queues };
}

const startUrl = (base: string, vhost: string) => `${base}/api/queue-migration/start/${encodeURIComponent(vhost)}`;

/** POST start with batch_size all; the migration id. */
export async function startAll(sidecarUrl: string, vhost: string): Promise<string> {
  const started = await apiJson(startUrl(sidecarUrl, vhost), 'POST', { batch_size: 'all' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return started.body.migration_id;
}

/** Polls status/:id until at least `n` queues completed; the count seen. */
export async function waitCompletedQueues(sidecarUrl: string, id: string, n: number, timeoutMs = 300_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await apiJson(`${sidecarUrl}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
    const m = r.body?.migration;
    assert.ok(!['failed', 'rollback_pending', 'completed'].includes(m?.status), `migration ended ${m?.status} before ${n} queues completed: ${m?.error}`);
    if ((m?.completed_queues ?? 0) >= n) return m.completed_queues;
    if (Date.now() > deadline) throw new Error(`fewer than ${n} queues completed in ${timeoutMs} ms: ${JSON.stringify(m)}`);
    await sleep(50);
  }
}

/** Records are cluster-wide: remove the ones of this test's vhost. */
export function cleanupRecords(t: After, vhost: string): void {
  const store = new MigrationStore(admin(), testSeal());
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) {
      if (r.vhost !== vhost) continue;
      await store.delete(r).catch(() => undefined);
      await admin()
        .deleteGlobalParameter(`qmig.interrupt.${r.id}`)
        .catch(() => undefined);
    }
  });
}

/**
 * What a failed large run looked like, for the assertion message: the queues that did not
 * complete (record, broker counts), every shovel the broker reports, and the sidecars' log lines
 * about those queues.
 */
export async function diagnose(id: string, vhost: string, logs: string[]): Promise<string> {
  const mgmt = admin();
  const store = new MigrationStore(mgmt, testSeal());
  const record = await store.loadRecord(id);
  const queues = record ? await store.loadQueues(record) : [];
  const bad = queues.filter((q) => q.status !== 'completed');
  const counts = await mgmt.queues(vhost, ['name', 'type', 'messages']);
  const lines = [
    `record: ${record?.status} ${record?.error}`,
    `shovel parameters: ${JSON.stringify(await shovelParameterNames(vhost))}`,
    `shovels reported: ${JSON.stringify((await mgmt.shovels(vhost)).map((s) => [s.name, s.state, s.node, s.timestamp]))}`,
    `queues a shovel consumes: ${JSON.stringify(await shovelConsumedQueues(mgmt, vhost))}`,
  ];
  for (const q of bad) {
    lines.push(`${q.name}: ${q.status} ${q.phase} ${q.location} ${q.error} ${JSON.stringify(q.detail)}`);
    lines.push(`  broker: ${JSON.stringify(counts.filter((c) => c.name === q.name || c.name === `qmig.tmp.${q.name}`))}`);
    for (const log of logs)
      for (const l of log.split('\n').filter((x) => x.includes(`"${q.name}"`) || x.includes(`.${q.name}.`) || x.includes(`tmp.${q.name}"`)))
        lines.push(`  ${l.slice(0, 600)}`);
  }
  // What each sidecar said about the run as a whole (resume, housekeeping, locks, warnings).
  for (const [i, log] of logs.entries()) {
    const general = log.split('\n').filter((l) => /"level":"(warn|error)"|resum|housekeep|lock|orphan/i.test(l) && !/"queue":"q\d+"/.test(l));
    lines.push(`sidecar ${i + 1}: ${general.length} general line(s), the last 25:`);
    for (const l of general.slice(-25)) lines.push(`  ${l.slice(0, 600)}`);
  }
  return lines.join('\n');
}

/** Shovels of the vhost right now (parameters), for what the dead sidecar left behind. */
export async function shovelParameterNames(vhost: string): Promise<string[]> {
  return (await admin().ok<Array<{ name: string }>>('GET', `/parameters/shovel/${enc(vhost)}`)).map((s) => s.name);
}
