/**
 * A cluster of a test's own (scripts/cluster.sh), for tests that stop, freeze or partition nodes
 * and so must not disturb the shared test cluster. Its name and port offset derive from the test
 * cluster's (`${name}-${suffix}`, offset + delta), so CI and other checkouts never collide.
 *
 * `useExtraCluster` points this process's test support (test/support/cluster.ts reads the
 * environment on every call: admin(), rabbitmqctl(), sidecarEnv(), testVhost(), publish(), …) at
 * the new cluster: each test file runs in a process of its own, so the shared cluster's other
 * test files are unaffected.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cluster } from './cluster.js';

const run = promisify(execFile);

export interface ExtraCluster {
  name: string;
  nodes: number;
  offset: number;
  /** Erlang net_ticktime of the nodes (seconds), when set. */
  netTicktime?: number;
  tls: boolean;
  managementUrls: string[];
  amqpUrls: string[];
  nodeNames: string[];
}

export interface ExtraClusterSpec {
  suffix: string;
  nodes: number;
  /** Added to the test cluster's port offset. */
  offsetDelta: number;
  netTicktime?: number;
  /**
   * False: plain listeners only (`--no-tls`). The TLS ports (plain + 30000) lie in Linux's
   * ephemeral port range: a node booted again while clients keep connecting found its management
   * TLS port taken by an outgoing connection (measured: could_not_start_listener 49972).
   */
  tls?: boolean;
}

/** The test cluster's port offset (scripts/test.sh QMIG_TEST_OFFSET). */
export function testClusterOffset(): number {
  return Number(new URL(cluster.managementUrls[0]).port) - 15672;
}

export function extraClusterOf(spec: ExtraClusterSpec): ExtraCluster {
  const name = `${cluster.name}-${spec.suffix}`;
  const offset = testClusterOffset() + spec.offsetDelta;
  const idx = Array.from({ length: spec.nodes }, (_, i) => i);
  return {
    name,
    nodes: spec.nodes,
    offset,
    netTicktime: spec.netTicktime,
    tls: spec.tls ?? true,
    managementUrls: idx.map((i) => `http://127.0.0.1:${15672 + offset + i}`),
    amqpUrls: idx.map((i) => `amqp://guest:guest@127.0.0.1:${5672 + offset + i}`),
    nodeNames: idx.map((i) => `${name}${i + 1}@localhost`),
  };
}

async function clusterSh(c: ExtraCluster, args: string[], timeoutMs = 300_000): Promise<string> {
  const { stdout, stderr } = await run('bash', ['scripts/cluster.sh', ...args, '--name', c.name, '--nodes', String(c.nodes), '--offset', String(c.offset)], {
    timeout: timeoutMs,
  });
  return stdout + stderr;
}

/** Brings the cluster up anew (state of an earlier killed run is never reused). */
export async function upFresh(c: ExtraCluster): Promise<void> {
  await clusterSh(c, ['up', '--fresh', ...(c.netTicktime ? ['--net-ticktime', String(c.netTicktime)] : []), ...(c.tls ? [] : ['--no-tls'])]);
}

/** `up` without --fresh: starts whatever node of the cluster is stopped, on its data. */
export async function upAgain(c: ExtraCluster): Promise<void> {
  await clusterSh(c, ['up']);
}

/** `cluster.sh stop`: every node stopped at once, data kept. */
export async function stopAll(c: ExtraCluster): Promise<string> {
  return clusterSh(c, ['stop']);
}

export async function destroy(c: ExtraCluster): Promise<void> {
  await clusterSh(c, ['down']).catch(() => undefined);
}

/** The OS pid of node `i`'s (0-based) Erlang VM. */
export function beamPid(c: ExtraCluster, i: number): number {
  const dir = process.env.QMIG_CLUSTER_DIR ?? '/tmp/qmig-clusters';
  return Number(readFileSync(join(dir, c.name, `node${i + 1}`, 'rabbit.pid'), 'utf8').trim());
}

/**
 * Brings the cluster up (fresh) and points this process's test support at it; `after` gets its
 * teardown (the cluster is deleted, even when the test failed).
 */
export async function useExtraCluster(t: { after(fn: () => unknown): void }, spec: ExtraClusterSpec): Promise<ExtraCluster> {
  const c = extraClusterOf(spec);
  t.after(() => destroy(c));
  await upFresh(c);
  process.env.QMIG_CLUSTER_NAME = c.name;
  process.env.QMIG_CLUSTER_NODES = String(c.nodes);
  process.env.QMIG_CLUSTER_MGMT_URLS = c.managementUrls.join(',');
  process.env.QMIG_CLUSTER_AMQP_URLS = c.amqpUrls.join(',');
  return c;
}
