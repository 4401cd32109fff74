/**
 * Issue 16: the pre-flight check on a real cluster with a node down and with a real network
 * partition. The test brings up a 2-node cluster of its own (`${test cluster}-small`, offset +200,
 * net_ticktime 4 s so that a frozen node is declared down in seconds) and asks a sidecar pointed
 * at it, as an operator would (POST /api/queue-migration/check/:vhost), about a vhost holding a
 * mirrored classic queue:
 *   (a) all healthy → cluster_health passed;
 *   (b) node 2's app stopped → cluster_health failed naming it, and POST start/:vhost is refused
 *       with that message; node 2 started again → passed;
 *   (c) node 2's VM frozen (SIGSTOP) longer than net_ticktime, then thawed: the nodes report each
 *       other in `partitions` (GET /api/nodes) → cluster_health failed naming the partition; node 2
 *       restarted (the minority side of a partition is restarted to heal it) → passed again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gatherClusterState } from '../../src/checks/cluster-snapshot.js';
import { runsShovel } from '../../src/checks/shovel-plugin.js';
import { admin, rabbitmqctl, repairNodeStatistics } from '../support/cluster.js';
import { beamPid, useExtraCluster, upAgain, type ExtraCluster } from '../support/extra-cluster.js';
import { waitFor, waitForQueues, mirroredNow } from '../support/checks-agreement.js';
import { publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';

const P = '/api/queue-migration';
const NET_TICKTIME = 4;
let small: ExtraCluster;

// The cluster's teardown is registered at the top level (a hook registered inside `before` ran
// before the test), and runs even when the test failed.
const teardown: Array<() => unknown> = [];
before(async () => {
  small = await useExtraCluster({ after: (fn) => teardown.push(fn) }, { suffix: 'small', nodes: 2, offsetDelta: 200, netTicktime: NET_TICKTIME, tls: false });
});
after(async () => {
  for (const fn of teardown) await fn();
});

interface SystemCheck {
  check_type: string;
  status: string;
  message: string;
  details?: { nodes_down?: string[]; partitions?: Array<{ node: string; partitioned_from: string[] }> };
}

async function clusterHealth(s: TestSidecar, vhost: string): Promise<{ check: SystemCheck; report: any }> {
  const res = await s.api(`${P}/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const report = await res.json();
  assert.equal(res.status, 200, JSON.stringify(report));
  assertSchema('check-response', report);
  const check = (report.system_checks.checks as SystemCheck[]).find((c) => c.check_type === 'cluster_health');
  assert.ok(check, 'the report has a cluster_health check');
  return { check, report };
}

/**
 * Both nodes running, with statistics, neither reporting a partition, and each listing the shovel
 * plugin among its running applications (a restarted node's first statistics can list `rabbit`
 * without its plugins: the shovel_plugin check then fails for a second or two).
 */
async function waitHealthy(): Promise<void> {
  await waitFor(
    'both nodes running with statistics and no partition',
    async () => {
      await repairNodeStatistics();
      const { nodes } = await gatherClusterState(admin());
      return nodes.length === 2 && nodes.every((n) => n.running && n.mem_used != null && (n.partitions ?? []).length === 0 && runsShovel(n));
    },
    90_000,
  );
}

async function mirroredVhost(t: { after(fn: () => unknown): void }): Promise<string> {
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost);
  await admin().declareQueue(vhost, 'orders', { durable: true, node: small.nodeNames[0] });
  await publish(vhost, { queue: 'orders' }, 20);
  await waitForQueues(vhost, ['orders'], (q) => mirroredNow(q) && (q.synchronised_slave_nodes ?? []).length === 1);
  return vhost;
}

test('cluster_health on a real 2-node cluster: healthy, a node stopped (start refused), a real partition and its healing', async (t) => {
  const s = await startTestSidecar(t, { env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const vhost = await mirroredVhost(t);
  const node2 = small.nodeNames[1];

  // (a) healthy.
  const healthy = await clusterHealth(s, vhost);
  assert.equal(healthy.check.status, 'passed', healthy.check.message);
  assert.equal(healthy.report.overall_ready, true, JSON.stringify(healthy.report.system_checks.checks));

  // (b) node 2's app stopped: reported down, and start refused with the check's message.
  t.after(() => rabbitmqctl(1, 'start_app').catch(() => undefined));
  await rabbitmqctl(1, 'stop_app');
  await waitFor('node 2 reported not running', async () => (await admin().nodes()).some((n) => n.name === node2 && !n.running));
  const down = await clusterHealth(s, vhost);
  assert.equal(down.check.status, 'failed');
  assert.match(down.check.message, new RegExp(`node\\(s\\) down: ${node2.replace(/[.@-]/g, '\\$&')}`));
  assert.deepEqual(down.check.details?.nodes_down, [node2]);
  assert.equal(down.report.overall_ready, false);
  const refused = await s.api(`${P}/start/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const refusal = await refused.json();
  assert.equal(refused.status, 400, JSON.stringify(refusal));
  assertSchema('error-response', refusal);
  assert.equal(refusal.error, 'bad_request');
  assert.equal(refusal.reason, down.check.message, 'start is refused with the message of the failed cluster_health check');
  await rabbitmqctl(1, 'start_app');
  await waitHealthy();
  const back = await clusterHealth(s, vhost);
  assert.equal(back.check.status, 'passed', back.check.message);

  // (c) a real partition: node 2 frozen until node 1 declares it down, and two net_ticktimes more,
  // then thawed: Mnesia on the nodes reports the other as partitioned (both did in the runs
  // measured, but not always within a minute: one more freeze if none is reported in 30 s). The
  // check reads the nodes' own reports through node 1's management API.
  const pid = beamPid(small, 1);
  t.after(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  const views = async () => {
    const [one, two] = await Promise.all([
      admin(0).nodes(),
      admin(1)
        .nodes()
        .catch(() => []),
    ]);
    return {
      node1: one.map((n) => [n.name, n.running, n.partitions ?? []]),
      node2: two.map((n) => [n.name, n.running, n.partitions ?? []]),
      partitioned: one.some((n) => n.running && (n.partitions ?? []).length > 0),
    };
  };
  let seen: Awaited<ReturnType<typeof views>> | null = null;
  for (let attempt = 1; attempt <= 2 && !seen; attempt++) {
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor('node 2 declared down by node 1', async () => (await admin(0).nodes()).some((n) => n.name === node2 && !n.running), 30_000);
      await new Promise((r) => setTimeout(r, 2 * NET_TICKTIME * 1000));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    seen = await waitFor('a partition reported', async () => ((await views()).partitioned ? views() : null), 30_000).catch(() => null);
    t.diagnostic(`freeze ${attempt}: ${JSON.stringify(seen ?? (await views().catch((e) => String(e))))}`);
  }
  assert.ok(seen, 'a partition is reported after freezing node 2 past net_ticktime');
  const split = await clusterHealth(s, vhost);
  assert.equal(split.check.status, 'failed');
  const names = small.nodeNames.map((n) => n.replace(/[.@-]/g, '\\$&')).join('|');
  assert.match(split.check.message, new RegExp(`network partition: (${names}) cannot see (${names})`));
  assert.ok(
    (split.check.details?.partitions ?? []).some(
      (p) => small.nodeNames.includes(p.node) && p.partitioned_from.some((x) => x !== p.node && small.nodeNames.includes(x)),
    ),
    JSON.stringify(split.check.details),
  );
  assert.equal(split.report.overall_ready, false);

  // Heal: restart node 2 (the side to restart after a partition). stop_app/start_app on a
  // partitioned 3.10 node hung in start_app (measured: over 10 minutes), so its VM is killed and
  // booted again on its data (`cluster.sh up` starts the stopped node).
  process.kill(pid, 'SIGKILL');
  await waitFor('node 2 VM gone', async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  await upAgain(small);
  await waitHealthy();
  const healed = await clusterHealth(s, vhost);
  assert.equal(healed.check.status, 'passed', healed.check.message);
  assert.equal(healed.report.overall_ready, true, JSON.stringify(healed.report.system_checks.checks));
});
