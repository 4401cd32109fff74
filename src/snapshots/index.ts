/**
 * Snapshots of every node's data before any queue is touched (mode none | tar | ebs, from
 * QMIG_SNAPSHOT_MODE). Each sidecar snapshots its own node (tar-snapshot.ts, ebs-snapshot.ts);
 * the coordinating sidecar asks its peers (QMIG_PEERS, or QMIG_PEERS_DNS: peer-discovery.ts) for theirs (peer-snapshots.ts), all in
 * parallel, and insists on one snapshot per running cluster node: a missing peer, a failed
 * snapshot or a node nobody answered for fails the whole step (the snapshots already taken are
 * removed again) with a SnapshotFailedError, before any queue is touched.
 * Snapshots are kept when a migration ends rollback_pending (nothing here removes them then);
 * deleteSnapshots removes them after a success only when QMIG_SNAPSHOT_DELETE_ON_SUCCESS=true.
 */
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { SnapshotFailedError } from '../errors.js';
import { logger } from '../logging.js';
import type { Snapshot } from '../state/records.js';
import { EbsSnapshotter } from './ebs-snapshot.js';
import type { NodeSnapshotActivity, NodeSnapshotter } from './node-snapshotter.js';
import { discoverPeers } from './peer-discovery.js';
import { PeerSidecars } from './peer-snapshots.js';
import { TarSnapshotter } from './tar-snapshot.js';

export type { NodeSnapshotActivity, NodeSnapshotter } from './node-snapshotter.js';

const snapshotters = new WeakMap<Config, NodeSnapshotter | null>();

/** This sidecar's snapshotter (one per configuration, so EBS lookups are cached); null in mode none. */
export function localSnapshotter(config: Config): NodeSnapshotter | null {
  if (snapshotters.has(config)) return snapshotters.get(config) ?? null;
  let s: NodeSnapshotter | null = null;
  if (config.snapshotMode === 'tar') {
    s = new TarSnapshotter({ dataDir: config.snapshotDataDir ?? '', snapshotDir: config.snapshotDir, timeoutMs: config.snapshotTimeoutSeconds * 1000 });
  } else if (config.snapshotMode === 'ebs') {
    s = new EbsSnapshotter({
      region: config.ebsRegion,
      endpoint: config.ebsEndpoint,
      instanceId: config.ebsInstanceId,
      device: config.ebsDevice,
      imdsEndpoint: config.ebsImdsEndpoint.href,
      timeoutMs: Math.min(config.snapshotTimeoutSeconds * 1000, 120_000),
    });
  }
  snapshotters.set(config, s);
  return s;
}

interface Outcome<T> {
  source: string;
  value?: T;
  error?: string;
}

async function settle<T>(source: string, p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { source, value: await p };
  } catch (err) {
    return { source, error: (err as Error).message };
  }
}

/** Takes one snapshot per node (this node locally, peers through their sidecars). */
export async function takeSnapshots(ctx: Context, migrationId: string): Promise<Snapshot[]> {
  const local = localSnapshotter(ctx.config);
  if (!local) return [];
  const log = logger.child({ migration_id: migrationId });
  const peers = new PeerSidecars(ctx.config, await discoverPeers(ctx.config));
  const nodes = (await ctx.mgmt.nodes()).filter((n) => n.running).map((n) => n.name);
  const outcomes = await Promise.all([
    settle(`this sidecar (${ctx.nodeName})`, local.take(ctx.nodeName, migrationId)),
    ...peers.urls.map((url) => settle(`peer ${url}`, peers.take(url, migrationId))),
  ]);
  const taken = outcomes.filter((o) => o.value).map((o) => o.value as Snapshot);
  const problems = outcomes.filter((o) => o.error).map((o) => `${o.source}: ${o.error}`);
  const counted = new Map<string, number>();
  for (const s of taken) counted.set(s.node, (counted.get(s.node) ?? 0) + 1);
  const missing = nodes.filter((n) => !counted.has(n));
  const twice = [...counted].filter(([, c]) => c > 1).map(([n]) => n);
  if (problems.length === 0 && missing.length > 0) {
    problems.push(
      `no sidecar snapshotted node(s) ${missing.join(', ')}: list the sidecar of every node in QMIG_PEERS (or resolve them all with QMIG_PEERS_DNS)`,
    );
  }
  if (twice.length > 0) problems.push(`node(s) ${twice.join(', ')} snapshotted by more than one sidecar: check QMIG_PEERS`);
  if (problems.length > 0) {
    log.error('snapshots failed; removing the ones taken', { problems, taken });
    await removeEverywhere(ctx, taken).catch((err) => log.warn('could not remove partial snapshots', { error: (err as Error).message, taken }));
    throw new SnapshotFailedError(`Snapshots (${ctx.config.snapshotMode}) failed before migration: ${problems.join('; ')}`);
  }
  taken.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  log.info('snapshots taken', { mode: ctx.config.snapshotMode, snapshots: taken });
  return taken;
}

/** Removes the snapshots of a successful migration when configured to (never throws). */
export async function deleteSnapshots(ctx: Context, snapshots: Snapshot[]): Promise<void> {
  if (!ctx.config.snapshotDeleteOnSuccess || snapshots.length === 0 || ctx.config.snapshotMode === 'none') return;
  try {
    const removed = await removeEverywhere(ctx, snapshots);
    logger.info('snapshots removed after success', { removed });
  } catch (err) {
    logger.warn('snapshots could not all be removed after success; remove them by hand', { error: (err as Error).message, snapshots });
  }
}

/** Local snapshots here, the others by every peer (each removes only its own node's). */
async function removeEverywhere(ctx: Context, snapshots: Snapshot[]): Promise<string[]> {
  const local = localSnapshotter(ctx.config);
  const mine = snapshots.filter((s) => s.node === ctx.nodeName);
  const others = snapshots.filter((s) => s.node !== ctx.nodeName);
  const peers = new PeerSidecars(ctx.config, others.length > 0 ? await discoverPeers(ctx.config) : []);
  const removed: string[] = [];
  const errors: string[] = [];
  await Promise.all([
    ...mine.map(async (s) => {
      try {
        if (local && (await local.remove(s))) removed.push(s.snapshot_id);
      } catch (err) {
        errors.push(`${s.snapshot_id}: ${(err as Error).message}`);
      }
    }),
    ...(others.length > 0
      ? peers.urls.map(async (url) => {
          try {
            removed.push(...(await peers.remove(url, others)));
          } catch (err) {
            errors.push(`peer ${url}: ${(err as Error).message}`);
          }
        })
      : []),
  ]);
  if (errors.length > 0) throw new SnapshotFailedError(`could not remove snapshots: ${errors.join('; ')}`);
  return removed;
}

export interface ClusterSnapshotActivity {
  mode: Config['snapshotMode'];
  nodes: NodeSnapshotActivity[];
  /** Sidecars (this one or peers) that could not tell: an unreachable EC2 or peer. */
  errors: Array<{ source: string; error: string }>;
}

/** What every node's sidecar says about snapshots in progress (mode none: nothing to ask). */
export async function snapshotActivity(ctx: Context): Promise<ClusterSnapshotActivity> {
  const local = localSnapshotter(ctx.config);
  if (!local) return { mode: 'none', nodes: [], errors: [] };
  const discovery = await settle('peer discovery', discoverPeers(ctx.config));
  const peers = new PeerSidecars(ctx.config, discovery.value ?? []);
  const outcomes = await Promise.all([
    settle(`this sidecar (${ctx.nodeName})`, local.activity(ctx.nodeName)),
    ...peers.urls.map((url) => settle(`peer ${url}`, peers.activity(url))),
  ]);
  return {
    mode: ctx.config.snapshotMode,
    nodes: outcomes.filter((o) => o.value).map((o) => o.value as NodeSnapshotActivity),
    errors: [discovery, ...outcomes].filter((o) => o.error).map((o) => ({ source: o.source, error: o.error as string })),
  };
}
