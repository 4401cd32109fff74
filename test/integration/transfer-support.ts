/**
 * Helpers of the transfer (xfer) tests: the independent 1-node target cluster "test-target"
 * (scripts/test.sh exports QMIG_TARGET_MGMT_URL / QMIG_TARGET_AMQP_URL), a Context of the source
 * test cluster for the TransferService, and message fingerprints read fast over any AMQP URL in
 * exactly the format of test/support/messages.ts `fingerprint()`.
 */
import amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enc, ManagementClient } from '../../src/broker/management-client.js';
import { loadConfig } from '../../src/config/config.js';
import { createContext, type Context } from '../../src/context.js';
import type { AuditRecord } from '../../src/state/audit-log.js';
import { TransferStore } from '../../src/transfer/transfer-store.js';
import { admin, cluster } from '../support/cluster.js';
import { fingerprintOf } from '../support/messages.js';
import { TEST_STATE_SECRET, testSeal } from '../support/state-secret.js';

type After = { after(fn: () => unknown): void };

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with scripts/test.sh (it starts the target cluster)`);
  return v;
}

export const targetCluster = {
  get managementUrl(): string {
    return required('QMIG_TARGET_MGMT_URL');
  },
  get amqpUrl(): string {
    return required('QMIG_TARGET_AMQP_URL');
  },
  user: 'guest',
  password: 'guest',
};

export function targetAdmin(): ManagementClient {
  return new ManagementClient({ baseUrl: targetCluster.managementUrl, user: targetCluster.user, password: targetCluster.password });
}

export function targetAmqpUrl(vhost: string, user = targetCluster.user, password = targetCluster.password): string {
  const u = new URL(targetCluster.amqpUrl);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

export function sourceAmqpUrl(vhost: string, node = 0): string {
  const u = new URL(cluster.amqpUrls[node]);
  u.username = encodeURIComponent(cluster.user);
  u.password = encodeURIComponent(cluster.password);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

/** Deletes `vhost` on the target cluster after the test (the transfer creates it there). */
export function cleanupTargetVhost(t: After, vhost: string): void {
  t.after(() =>
    targetAdmin()
      .deleteIfExists(`/vhosts/${enc(vhost)}`)
      .catch(() => undefined),
  );
}

/** A user on the TARGET cluster, deleted after the test. */
export async function targetUser(
  t: After,
  tags: string[],
  password = `p@ss:w/rd%&${randomBytes(3).toString('hex')}`,
): Promise<{ user: string; password: string }> {
  const user = `qmig-xfer-${randomBytes(4).toString('hex')}`;
  const mgmt = targetAdmin();
  await mgmt.ok('PUT', `/users/${enc(user)}`, { password, tags: tags.join(',') });
  t.after(() => mgmt.deleteIfExists(`/users/${enc(user)}`).catch(() => undefined));
  return { user, password };
}

/** Deletes the transfer records (qmig.xfer.*) of `vhost` after the test. */
export function cleanupTransferRecords(t: After, vhost: string): void {
  t.after(async () => {
    const store = new TransferStore(admin(), testSeal());
    const records = await store.list().catch(() => []);
    await Promise.all(records.filter((r) => r.vhost === vhost).map((r) => store.delete(r.id).catch(() => undefined)));
  });
}

export interface TestContextHandle {
  ctx: Context;
  auditFile: string;
  audit(): AuditRecord[];
}

/** A Context on node 0 of the source test cluster with its own audit log file; closed after the test. */
export function sourceContext(t: After, env: Record<string, string> = {}): TestContextHandle {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-xfer-'));
  const auditFile = join(dir, 'audit.log');
  const amqpBase = new URL(cluster.amqpUrls[0]);
  amqpBase.username = '';
  amqpBase.password = '';
  const config = loadConfig({
    QMIG_MANAGEMENT_URL: cluster.managementUrls[0],
    QMIG_AMQP_URL: amqpBase.toString().replace(/\/$/, ''),
    QMIG_USER: cluster.user,
    QMIG_PASSWORD: cluster.password,
    QMIG_STATE_SECRET: TEST_STATE_SECRET,
    QMIG_AUDIT_LOG: auditFile,
    QMIG_LOG_LEVEL: process.env.QMIG_LOG_LEVEL ?? 'error',
    ...env,
  });
  const ctx = createContext(config, cluster.nodeNames[0]);
  t.after(async () => {
    await ctx.amqp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const audit = () => {
    let text = '';
    try {
      text = readFileSync(auditFile, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord);
  };
  return { ctx, auditFile, audit };
}

export async function countAt(url: string, queue: string): Promise<number> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/**
 * Every message of the queue at `url` (consumed without ack, then requeued when the connection
 * closes), as the sorted fingerprints of test/support/messages.ts — fast enough for 50k messages.
 */
export async function fingerprintAt(url: string, queue: string): Promise<string[]> {
  const conn = await amqp.connect(url);
  const out: string[] = [];
  try {
    const ch = await conn.createChannel();
    const expected = (await ch.checkQueue(queue)).messageCount;
    if (expected === 0) return [];
    await ch.prefetch(0);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${expected} messages of ${queue} within 120 s`)), 120_000);
      ch.consume(
        queue,
        (msg) => {
          if (!msg) return;
          out.push(fingerprintOf(msg));
          if (out.length === expected) {
            clearTimeout(timer);
            resolve();
          }
        },
        { noAck: false },
      ).catch(reject);
    });
  } finally {
    await conn.close().catch(() => undefined);
  }
  return out.sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
