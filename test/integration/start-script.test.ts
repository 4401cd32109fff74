/**
 * `npm start` (scripts/start.sh) for real, pointed at the test cluster instead of "main": it reuses
 * the running cluster, seeds a demo vhost of its own, starts three sidecars (one per node), prints
 * the URLs and the curl commands — whose migration of the demo vhost completes — and stops the
 * sidecars on Ctrl-C (SIGINT) while the cluster keeps running.
 * Needs dist/ (scripts/test.sh builds it; with QMIG_FAST=1 run `npm run build` first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { admin, cluster } from '../support/cluster.js';
import { messageCount } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth } from '../support/sidecar.js';
import { enc } from '../../src/broker/management-client.js';
import { BINDINGS, EXCHANGES, MIRROR_POLICY, QUEUES, seedDemo } from '../../scripts/seed-demo.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with `n` consecutive free ports after it. */
async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

test('npm start: cluster reused, demo vhost seeded, one sidecar per node, curl works, Ctrl-C stops the sidecars', { timeout: 300_000 }, async (t) => {
  assert.ok(existsSync('dist/cli/main.js'), 'dist/cli/main.js exists (run npm run build)');
  const mgmt = admin();
  const vhost = `qmig-test-start-${randomBytes(4).toString('hex')}`;
  const port = await freePortRange(3);
  const logDir = mkdtempSync(join(tmpdir(), 'qmig-start-'));
  const offset = Number(new URL(cluster.managementUrls[0]).port) - 15672;

  const child = spawn('bash', ['scripts/start.sh'], {
    env: {
      ...process.env,
      QMIG_DEMO_CLUSTER: cluster.name,
      QMIG_DEMO_OFFSET: String(offset),
      QMIG_DEMO_VHOST: vhost,
      QMIG_DEMO_SIDECAR_PORT: String(port),
      QMIG_DEMO_LOG_DIR: logDir,
      QMIG_DEMO_NO_INSTALL: '1',
      QMIG_DEMO_NO_BUILD: '1',
      QMIG_DEMO_FOLLOW_LOGS: '0',
      QMIG_LOG_LEVEL: 'info',
      NODE_OPTIONS: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  t.after(async () => {
    // On failure, take down the script and its sidecars (its own process group) before anything else.
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    // Sidecars run in their own sessions: stop any the script left behind (it removes the pid files when it stops them).
    for (const f of existsSync(logDir) ? readdirSync(logDir).filter((n) => /^sidecar\d+\.pid$/.test(n)) : []) {
      try {
        process.kill(Number(readFileSync(join(logDir, f), 'utf8').trim()), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`).catch(() => undefined);
    rmSync(logDir, { recursive: true, force: true });
  });

  // Ready banner (or the script gives up).
  const deadline = Date.now() + 240_000;
  while (!stdout.includes('qmig is running') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(stdout.includes('qmig is running'), `start.sh did not get ready (exit ${child.exitCode}).\nstdout:\n${stdout}\nstderr:\n${stderr}`);

  // The demo vhost: mirrored classic queues, masters spread, exact message counts, bindings.
  const queues = await mgmt.queues(vhost);
  assert.deepEqual(queues.map((q) => q.name).sort(), QUEUES.map((q) => q.name).sort());
  for (const q of queues) {
    assert.equal(q.type ?? 'classic', 'classic', `${q.name} is classic`);
    assert.equal(q.durable, true);
    assert.equal(q.policy, MIRROR_POLICY.name, `${q.name} carries the mirroring policy`);
    assert.ok((q.synchronised_slave_nodes ?? []).length >= 1, `${q.name} has a synchronised mirror`);
  }
  assert.equal(new Set(queues.map((q) => q.node)).size, 3, 'masters on all three nodes');
  for (const q of QUEUES) assert.equal(await messageCount(vhost, q.name), q.messages, `${q.name} holds ${q.messages} messages`);
  assert.ok(
    QUEUES.some((q) => q.messages === 0),
    'one queue is empty',
  );
  const byName = new Map(queues.map((q) => [q.name, q]));
  assert.equal(byName.get('tasks.priority')!.arguments['x-max-priority'], 10);
  assert.equal(byName.get('archive.lazy')!.arguments['x-queue-mode'], 'lazy');
  assert.equal(byName.get('orders.retry')!.arguments['x-dead-letter-exchange'], 'demo.dlx');
  const exchanges = await mgmt.ok<Array<{ name: string; type: string }>>('GET', `/exchanges/${enc(vhost)}`);
  for (const x of EXCHANGES) assert.equal(exchanges.find((e) => e.name === x.name)?.type, x.type, `exchange ${x.name}`);
  const bindings = await mgmt.ok<Array<{ source: string; destination: string; routing_key: string; arguments: Record<string, unknown> }>>(
    'GET',
    `/bindings/${enc(vhost)}`,
  );
  for (const b of BINDINGS) {
    assert.ok(
      bindings.some(
        (x) => x.source === b.exchange && x.destination === b.queue && x.routing_key === b.routingKey && isDeepStrictEqual(x.arguments, b.arguments ?? {}),
      ),
      `binding ${b.exchange} -> ${b.queue} (${b.routingKey})`,
    );
  }

  // The pid files name the sidecar processes themselves (setsid did not fork).
  for (let i = 1; i <= 3; i++) {
    const pid = Number(readFileSync(join(logDir, `sidecar${i}.pid`), 'utf8').trim());
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '), /dist\/cli\/main\.js serve/);
    // With the image's node options (Dockerfile ENV NODE_OPTIONS).
    const imageOptions = /^\s*NODE_OPTIONS=(\S+)/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    assert.ok(imageOptions, 'the Dockerfile sets NODE_OPTIONS');
    assert.ok(
      readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`NODE_OPTIONS=${imageOptions}`),
      `sidecar ${i} runs with NODE_OPTIONS=${imageOptions}`,
    );
  }

  // One sidecar per node, each beside its own node.
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://127.0.0.1:${port + i}/healthz`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assertSchema('healthz-response', body);
    assert.equal(body.node, cluster.nodeNames[i], `sidecar ${i + 1} is beside ${cluster.nodeNames[i]}`);
  }

  // The printed curl, run as printed.
  const curl = /curl -u (\S+):(\S+) -X POST (\S+\/api\/queue-migration\/check\/\S+)/.exec(stdout);
  assert.ok(curl, `start.sh prints a ready-to-paste curl:\n${stdout}`);
  assert.equal(curl[3], `http://127.0.0.1:${port}/api/queue-migration/check/${enc(vhost)}`);
  const check = await fetch(curl[3], { method: 'POST', headers: { authorization: basicAuth(curl[1], curl[2]) } });
  assert.equal(check.status, 200);
  const report = await check.json();
  assert.equal(report.vhost, vhost);
  assert.equal(report.queue_checks.summary.total_queues, QUEUES.length);
  // The demo sidecars downgrade 3.10's missing relaxed-redeclaration setting to a warning, and the banner says so.
  assert.match(stdout, /Demo setting: QMIG_RELAXED_CHECKS_WARN_ONLY=true/);
  assert.equal(report.overall_ready, true, `the demo vhost is ready: ${JSON.stringify(report.system_checks ?? report)}`);
  // The management API through the sidecar, as the banner advertises.
  const overview = await fetch(`http://127.0.0.1:${port}/api/overview`, { headers: { authorization: basicAuth(cluster.user, cluster.password) } });
  assert.equal(overview.status, 200);
  assert.equal(typeof (await overview.json()).cluster_name, 'string');

  // Seeding again publishes nothing: the state converges.
  const again = await seedDemo({
    vhost,
    managementUrl: cluster.managementUrls[0],
    amqpUrl: cluster.amqpUrls[0],
    user: cluster.user,
    password: cluster.password,
    log: () => undefined,
  });
  assert.equal(again.published, 0);
  for (const q of QUEUES) assert.equal(await messageCount(vhost, q.name), q.messages);

  // The printed start, run as printed: the demo's migration completes, every queue quorum with its messages.
  const start = /curl -u (\S+):(\S+) -X POST (\S+\/api\/queue-migration\/start\/\S+)/.exec(stdout);
  assert.ok(start, `start.sh prints the start curl:\n${stdout}`);
  const started = await fetch(start[3], { method: 'POST', headers: { authorization: basicAuth(start[1], start[2]) } });
  const startBody = await started.json();
  assert.equal(started.status, 200, JSON.stringify(startBody));
  const statusUrl = `http://127.0.0.1:${port}/api/queue-migration/status/${encodeURIComponent(startBody.migration_id)}`;
  let migration: { status: string; error?: string | null } = { status: 'pending' };
  for (const until = Date.now() + 120_000; Date.now() < until && !['completed', 'failed', 'interrupted', 'rollback_pending'].includes(migration.status);) {
    await new Promise((r) => setTimeout(r, 500));
    const res = await fetch(statusUrl, { headers: { authorization: basicAuth(start[1], start[2]) } });
    migration = (await res.json()).migration;
  }
  assert.equal(migration.status, 'completed', JSON.stringify(migration));
  for (const q of QUEUES) {
    assert.equal((await mgmt.queue(vhost, q.name))?.type, 'quorum', `${q.name} is quorum`);
    assert.equal(await messageCount(vhost, q.name), q.messages, `${q.name} still holds ${q.messages} messages`);
  }

  // Ctrl-C: the script stops its sidecars and exits; the cluster stays up.
  process.kill(child.pid!, 'SIGINT');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  assert.equal(code, 130, `start.sh exits 130 on SIGINT.\nstderr:\n${stderr}`);
  assert.match(stderr, /sidecars stopped/);
  for (let i = 0; i < 3; i++) assert.equal(await answers(`http://127.0.0.1:${port + i}/healthz`), false, `sidecar ${i + 1} is stopped`);
  assert.deepEqual(
    readdirSync(logDir).filter((n) => n.endsWith('.pid')),
    [],
    'pid files removed',
  );
  assert.equal((await mgmt.nodes()).filter((n) => n.running).length, 3, 'the cluster is still running');
});
