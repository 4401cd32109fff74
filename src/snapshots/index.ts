/**
 * Snapshots of every node's data before any queue is touched (issue 4 fills this in).
 * STUB: mode "none" only.
 */
import type { Context } from '../context.js';
import type { Snapshot } from '../state/records.js';

/** Takes one snapshot per node (this node locally, peers through their sidecars). */
export async function takeSnapshots(ctx: Context, migrationId: string): Promise<Snapshot[]> {
  void migrationId;
  if (ctx.config.snapshotMode === 'none') return [];
  throw new Error(`snapshot mode ${ctx.config.snapshotMode} is not implemented yet`);
}

/** Removes the snapshots of a successful migration when configured to. */
export async function deleteSnapshots(ctx: Context, snapshots: Snapshot[]): Promise<void> {
  void ctx;
  void snapshots;
}
