/**
 * What one sidecar can do about the snapshots of ITS OWN node, whatever the mode: take one,
 * remove one, and tell which are in progress. Implemented by TarSnapshotter and EbsSnapshotter;
 * the coordinating sidecar reaches the other nodes' snapshotters through their peer route.
 */
import type { Snapshot } from '../state/records.js';

export type SnapshotMode = 'none' | 'tar' | 'ebs';

export interface SnapshotInProgress {
  snapshot_id: string;
  volume_id: string;
  state: string;
  progress: string | null;
  started_at: string | null;
}

/** The snapshot activity of one node (answered by GET /api/queue-migration/snapshots/in-progress). */
export interface NodeSnapshotActivity {
  node: string;
  mode: SnapshotMode;
  /** The node's data volume (ebs) or data directory (tar); null in mode none. */
  volume_id: string | null;
  in_progress: SnapshotInProgress[];
}

export interface NodeSnapshotter {
  readonly mode: 'tar' | 'ebs';
  take(node: string, migrationId: string): Promise<Snapshot>;
  /** true when removed, false when it was already gone or is not this snapshotter's to remove. */
  remove(snapshot: Snapshot): Promise<boolean>;
  activity(node: string): Promise<NodeSnapshotActivity>;
}

/** File-name-safe form of a node name (`rabbit@host` stays readable). */
export function safeNodeName(node: string): string {
  return node.replace(/[^A-Za-z0-9@._-]/g, '_').slice(0, 200);
}
