/**
 * Set-up shared by the reliability suites (test/reliability/*.test.ts): a vhost of mirrored
 * queues with varied messages and bindings, application users with permissions and limits, the
 * integrity baseline; sidecars that hang at an engine point (hang-sidecar.ts) to be SIGKILLed
 * there; and the HTTP calls the suites make.
 */
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { AmqpPool } from '../../src/broker/amqp.js';
import { ClusterLock } from '../../src/state/cluster-lock.js';
import { admin, cluster } from '../support/cluster.js';
import { publishVaried, takeBaseline, type Baseline } from '../support/integrity.js';
import { basicAuth, freePort, sidecarEnv } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, waitSynchronised } from '../integration/migration-support.js';
import { MIGRATION_LOCK } from '../../src/broker/names.js';

type After = Pick<TestContext, 'after'> | { after(fn: () => unknown): void };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sidecar environment for a test: its vhost holds the locks; 3.10 has no relaxed checks. */
export function reliabilityEnv(vhost: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    QMIG_STATE_VHOST: vhost,
    QMIG_RELAXED_CHECKS_WARN_ONLY: 'true',
    QMIG_SHOVEL_START_TIMEOUT_SECONDS: '20',
    QMIG_SHOVEL_TIMEOUT_SECONDS: '120',
    QMIG_LOG_LEVEL: process.env.QMIG_LOG_LEVEL ?? 'error',
    ...extra,
  };
}

export interface QueueSpec {
  name: string;
  messages: number;
  /** 0-based node of the classic master. */
  node: number;
}

export interface PreparedVhost {
  vhost: string;
  users: Array<{ user: string; password: string }>;
  baseline: Baseline;
}

/**
 * A vhost with the given mirrored queues (each bound to amq.direct and amq.topic), `appUsers`
 * application users with permissions on it (one with a user limit), a vhost limit, and the
 * baseline taken once every mirror is synchronised.
 */
export async function prepareVhost(t: After, queues: QueueSpec[], appUsers = 2): Promise<PreparedVhost> {
  const vhost = await testVhost(t);
  const mgmt = admin();
  await mirrorPolicy(vhost, '.*');
  const users = [];
  for (let i = 0; i < appUsers; i++) {
    const u = await testUser(t, ['management'], []);
    await mgmt.setPermission(vhost, u.user, { configure: `^app${i}\\.`, write: '.*', read: '^(app|q)' });
    users.push(u);
  }
  if (users[0]) await mgmt.ok('PUT', `/user-limits/${enc(users[0].user)}/max-channels`, { value: 64 });
  await mgmt.ok('PUT', `/vhost-limits/${enc(vhost)}/max-queues`, { value: 5000 });
  for (const q of queues) {
    await classicQueue(vhost, q.name, {}, q.node);
    await mgmt.bindQueue(vhost, 'amq.direct', q.name, `rk-${q.name}`, {});
    await mgmt.bindQueue(vhost, 'amq.topic', q.name, `t.${q.name}.#`, {});
  }
  for (const q of queues) if (q.messages > 0) await publishVaried(vhost, q.name, q.messages);
  await waitSynchronised(vhost);
  const baseline = await takeBaseline(
    vhost,
    queues.map((q) => q.name),
    users.map((u) => u.user),
  );
  return { vhost, users, baseline };
}

const auth = { authorization: basicAuth(cluster.user, cluster.password) };

export async function apiJson(url: string, method: 'GET' | 'POST', body?: unknown, signal?: AbortSignal): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export const TERMINAL = ['completed', 'failed', 'interrupted', 'rollback_pending', 'rollback_completed'];

/** Polls GET status/:id on `sidecarUrl` until the migration is in a final status. */
export async function waitTerminal(sidecarUrl: string, id: string, timeoutMs = 180_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const r = await apiJson(`${sidecarUrl}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
      last = r.body;
      if (r.status === 200 && TERMINAL.includes(r.body.migration.status)) return r.body;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`migration ${id} did not finish: ${JSON.stringify(last).slice(0, 2000)}`);
    await sleep(250);
  }
}

/** Waits until nobody holds the migration lock of `vhost` (a killed holder's lock dies with its connection). */
export async function waitLockFree(vhost: string, timeoutMs = 30_000): Promise<void> {
  const amqp = new URL(cluster.amqpUrls[0]);
  const pool = new AmqpPool({ url: `amqp://${amqp.host}`, user: cluster.user, password: cluster.password });
  const deadline = Date.now() + timeoutMs;
  try {
    while (await ClusterLock.isHeld(pool, vhost, MIGRATION_LOCK)) {
      if (Date.now() > deadline) throw new Error(`the migration lock of ${vhost} is still held`);
      await sleep(200);
    }
  } finally {
    await pool.close();
  }
}

export interface HangSidecar {
  url: string;
  events: Array<Record<string, unknown>>;
  waitForHang(count?: number, timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
  output(): string;
}

/** Spawns hang-sidecar.ts beside node `node` (0-based); resolves once it listens. */
export async function spawnHangSidecar(
  t: After,
  env: Record<string, string>,
  hang: Array<{ at: string; queue?: string; nth?: number }>,
  node = 0,
): Promise<HangSidecar> {
  const fullEnv = { ...process.env, ...sidecarEnv(node, { QMIG_LISTEN_PORT: String(await freePort()), ...env }), QMIG_TEST_HANG: JSON.stringify(hang) };
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/reliability/hang-sidecar.ts'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const events: Array<Record<string, unknown>> = [];
  let output = '';
  let buffer = '';
  child.stdout!.on('data', (d) => {
    output += d;
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.includes('qmig_test_event')) continue;
      try {
        events.push(JSON.parse(line).qmig_test_event);
      } catch {
        /* a log line */
      }
    }
  });
  child.stderr!.on('data', (d) => (output += d));
  const waitFor = async (pred: () => boolean, what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (child.exitCode !== null) throw new Error(`hang sidecar exited before ${what}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`hang sidecar: no ${what} in ${timeoutMs} ms: ${JSON.stringify(events)}\n${output.slice(-3000)}`);
      await sleep(50);
    }
  };
  await waitFor(() => events.some((e) => e.listening), 'listening', 30_000);
  return {
    url: String(events.find((e) => e.listening)!.listening),
    events,
    waitForHang: (count = 1, timeoutMs = 60_000) => waitFor(() => events.filter((e) => e.hang).length >= count, `${count} hang(s)`, timeoutMs),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    output: () => output,
  };
}
