/**
 * Seeds the demo vhost that `npm start` shows: mirrored classic queues (policy `ha-mode: exactly 2`,
 * automatic sync) holding persistent messages with headers, bound to a direct, a topic, a headers
 * and a fanout (dead-letter) exchange. Masters are spread over the cluster's nodes.
 *
 * Idempotent: a re-run converges to the same state. Existing classic queues are topped up to their
 * target count (never emptied); queues that are no longer classic (already migrated to quorum) are
 * left as they are. `QMIG_DEMO_RESET=1` deletes the vhost first and seeds it from scratch.
 *
 *   node --import tsx scripts/seed-demo.ts
 *
 * Environment (all optional):
 *   QMIG_DEMO_VHOST           vhost to seed (default demo)
 *   QMIG_DEMO_MANAGEMENT_URL  management API of any node (default http://127.0.0.1:15672)
 *   QMIG_DEMO_AMQP_URL        AMQP listener used to publish (default amqp://127.0.0.1:5672)
 *   QMIG_DEMO_USER / QMIG_DEMO_PASSWORD   administrator account (default guest / guest)
 *   QMIG_DEMO_RESET=1         delete and recreate the vhost
 */
import amqp from 'amqplib';
import { pathToFileURL } from 'node:url';
import { ManagementClient, enc, type BrokerQueue } from '../src/broker/management-client.js';

export interface DemoQueue {
  name: string;
  /** Target number of ready messages. */
  messages: number;
  arguments?: Record<string, unknown>;
  /** Largest message priority to publish with (priority queues). */
  maxPriority?: number;
  /** Extra headers on every message of this queue. */
  headers?: Record<string, unknown>;
}

export interface DemoExchange {
  name: string;
  type: 'direct' | 'topic' | 'headers' | 'fanout';
}

export interface DemoBinding {
  exchange: string;
  queue: string;
  routingKey: string;
  arguments?: Record<string, unknown>;
}

export const MIRROR_POLICY = {
  name: 'demo-ha',
  pattern: '.*',
  'apply-to': 'queues',
  priority: 0,
  definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
} as const;

export const EXCHANGES: DemoExchange[] = [
  { name: 'demo.direct', type: 'direct' },
  { name: 'demo.topic', type: 'topic' },
  { name: 'demo.headers', type: 'headers' },
  { name: 'demo.dlx', type: 'fanout' },
];

export const QUEUES: DemoQueue[] = [
  { name: 'orders', messages: 1200 },
  { name: 'payments', messages: 600 },
  { name: 'audit.all', messages: 400 },
  { name: 'events.eu', messages: 300 },
  { name: 'reports.pdf', messages: 150, headers: { format: 'pdf', type: 'report' } },
  { name: 'tasks.priority', messages: 250, arguments: { 'x-max-priority': 10 }, maxPriority: 9 },
  { name: 'archive.lazy', messages: 800, arguments: { 'x-queue-mode': 'lazy' } },
  {
    name: 'orders.retry',
    messages: 200,
    arguments: { 'x-dead-letter-exchange': 'demo.dlx', 'x-dead-letter-routing-key': 'orders.dead' },
  },
  { name: 'orders.dead', messages: 0 },
];

export const BINDINGS: DemoBinding[] = [
  { exchange: 'demo.direct', queue: 'orders', routingKey: 'orders' },
  { exchange: 'demo.direct', queue: 'payments', routingKey: 'payments' },
  { exchange: 'demo.direct', queue: 'tasks.priority', routingKey: 'tasks' },
  { exchange: 'demo.direct', queue: 'orders.retry', routingKey: 'orders.retry' },
  { exchange: 'demo.topic', queue: 'audit.all', routingKey: '#' },
  { exchange: 'demo.topic', queue: 'events.eu', routingKey: 'events.eu.*' },
  { exchange: 'demo.topic', queue: 'archive.lazy', routingKey: 'archive.#' },
  { exchange: 'demo.headers', queue: 'reports.pdf', routingKey: '', arguments: { 'x-match': 'all', format: 'pdf', type: 'report' } },
  { exchange: 'demo.dlx', queue: 'orders.dead', routingKey: '' },
];

export interface SeedOptions {
  vhost: string;
  managementUrl: string;
  amqpUrl: string;
  user: string;
  password: string;
  reset?: boolean;
  log?: (line: string) => void;
}

export interface SeedResult {
  vhost: string;
  queues: Array<{ name: string; type: string; node?: string; mirrors: number; messages: number; published: number; note?: string }>;
  published: number;
}

const TENANTS = ['acme', 'globex', 'initech', 'umbrella'];

/** Body of the n-th demo message of a queue: JSON of varying size (≈100 B to ≈2 KB). */
function body(queue: string, n: number): Buffer {
  const padding = 'x'.repeat((n * 37) % 1900);
  return Buffer.from(JSON.stringify({ queue, seq: n, tenant: TENANTS[n % TENANTS.length], amount: (n * 13) % 1000, padding }));
}

function amqpUrlFor(base: string, user: string, password: string, vhost: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

export async function seedDemo(opts: SeedOptions): Promise<SeedResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const mgmt = new ManagementClient({ baseUrl: opts.managementUrl, user: opts.user, password: opts.password });
  const vh = enc(opts.vhost);

  if (opts.reset && (await mgmt.deleteIfExists(`/vhosts/${vh}`))) log(`[seed] deleted vhost ${opts.vhost} (QMIG_DEMO_RESET)`);
  await mgmt.ok('PUT', `/vhosts/${vh}`, { description: 'qmig demo: mirrored classic queues to migrate' });
  await mgmt.setPermission(opts.vhost, opts.user, { configure: '.*', write: '.*', read: '.*' });
  // The policy goes first so every queue is mirrored from its first message.
  await mgmt.ok('PUT', `/policies/${vh}/${enc(MIRROR_POLICY.name)}`, {
    pattern: MIRROR_POLICY.pattern,
    'apply-to': MIRROR_POLICY['apply-to'],
    priority: MIRROR_POLICY.priority,
    definition: MIRROR_POLICY.definition,
  });
  for (const x of EXCHANGES) {
    await mgmt.ok('PUT', `/exchanges/${vh}/${enc(x.name)}`, { type: x.type, durable: true, auto_delete: false, internal: false, arguments: {} });
  }

  const nodes = (await mgmt.nodes())
    .filter((n) => n.running)
    .map((n) => n.name)
    .sort();
  if (nodes.length === 0) throw new Error(`no running node reported by ${opts.managementUrl}`);
  const migrated = new Set<string>();
  for (const [i, q] of QUEUES.entries()) {
    const existing = await mgmt.queue(opts.vhost, q.name);
    if (existing && (existing.type ?? 'classic') !== 'classic') {
      migrated.add(q.name);
      continue;
    }
    if (!existing) {
      await mgmt.declareQueue(opts.vhost, q.name, { durable: true, auto_delete: false, arguments: q.arguments ?? {}, node: nodes[i % nodes.length] });
    }
  }
  for (const b of BINDINGS) await mgmt.bindQueue(opts.vhost, b.exchange, b.queue, b.routingKey, b.arguments ?? {});

  const conn = await amqp.connect(amqpUrlFor(opts.amqpUrl, opts.user, opts.password, opts.vhost), {
    clientProperties: { connection_name: 'qmig demo seed' },
  });
  const counts = new Map<string, number>();
  const published = new Map<string, number>();
  try {
    const ch = await conn.createConfirmChannel();
    for (const q of QUEUES) {
      const current = (await ch.checkQueue(q.name)).messageCount;
      const missing = migrated.has(q.name) ? 0 : Math.max(0, q.messages - current);
      for (let k = 0; k < missing; k++) {
        const n = current + k;
        const ok = ch.publish('', q.name, body(q.name, n), {
          persistent: true,
          contentType: 'application/json',
          messageId: `${q.name}-${n}`,
          appId: 'qmig-demo',
          timestamp: Math.floor(Date.now() / 1000),
          priority: q.maxPriority !== undefined ? n % (q.maxPriority + 1) : undefined,
          headers: { 'x-demo-seq': n, 'x-demo-queue': q.name, tenant: TENANTS[n % TENANTS.length], ...q.headers },
        });
        if (!ok) await new Promise((resolve) => ch.once('drain', resolve));
        if (k % 1000 === 999) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      published.set(q.name, missing);
      counts.set(q.name, (await ch.checkQueue(q.name)).messageCount);
    }
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }

  const expectedMirrors = Math.min(Number(MIRROR_POLICY.definition['ha-params']), nodes.length) - 1;
  const queues = await waitForMirrors(mgmt, opts.vhost, expectedMirrors, migrated, log);
  const result: SeedResult = { vhost: opts.vhost, queues: [], published: 0 };
  for (const q of QUEUES) {
    const b = queues.find((x) => x.name === q.name);
    const type = b?.type ?? 'classic';
    result.queues.push({
      name: q.name,
      type,
      node: b?.node,
      mirrors: b?.synchronised_slave_nodes?.length ?? 0,
      messages: counts.get(q.name) ?? 0,
      published: published.get(q.name) ?? 0,
      note: migrated.has(q.name) ? `already ${type}: left as is` : undefined,
    });
    result.published += published.get(q.name) ?? 0;
  }
  return result;
}

/** Waits (up to 60 s) until every classic demo queue carries the policy and has its synchronised mirrors. */
async function waitForMirrors(mgmt: ManagementClient, vhost: string, mirrors: number, skip: Set<string>, log: (l: string) => void): Promise<BrokerQueue[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const all = await mgmt.queues(vhost);
    const lagging = QUEUES.filter((q) => !skip.has(q.name)).filter((q) => {
      const b = all.find((x) => x.name === q.name);
      return !b || b.policy !== MIRROR_POLICY.name || (b.synchronised_slave_nodes?.length ?? 0) < mirrors;
    });
    if (lagging.length === 0) return all;
    if (Date.now() > deadline) {
      log(`[seed] WARNING: not yet mirrored and synchronised after 60 s: ${lagging.map((q) => q.name).join(', ')}`);
      return all;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function formatResult(r: SeedResult): string {
  const rows = r.queues.map(
    (q) =>
      `  ${q.name.padEnd(16)} ${q.type.padEnd(8)} ${String(q.messages).padStart(5)} msgs  master ${String(q.node ?? '?').padEnd(18)} ${q.mirrors} synced mirror(s)` +
      (q.note ? `  (${q.note})` : ''),
  );
  const total = r.queues.reduce((s, q) => s + q.messages, 0);
  return [`[seed] vhost "${r.vhost}": ${r.queues.length} queues, ${total} messages (${r.published} published now)`, ...rows].join('\n');
}

function env(name: string, def: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? def : v;
}

async function main(): Promise<void> {
  const result = await seedDemo({
    vhost: env('QMIG_DEMO_VHOST', 'demo'),
    managementUrl: env('QMIG_DEMO_MANAGEMENT_URL', 'http://127.0.0.1:15672'),
    amqpUrl: env('QMIG_DEMO_AMQP_URL', 'amqp://127.0.0.1:5672'),
    user: env('QMIG_DEMO_USER', 'guest'),
    password: env('QMIG_DEMO_PASSWORD', 'guest'),
    reset: /^(1|true|yes)$/i.test(env('QMIG_DEMO_RESET', '0')),
  });
  console.log(formatResult(result));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`[seed] failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
