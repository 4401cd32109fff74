/**
 * Migrations running in this process. The owner's in-memory records are the freshest truth, so
 * readers of this sidecar answer from here first and from the broker-held state otherwise.
 */
import type { MigrationRecord, QueueRecord } from './records.js';

export interface LiveMigration {
  record: MigrationRecord;
  queues: QueueRecord[];
}

export class LiveRegistry {
  private readonly live = new Map<string, LiveMigration>();

  add(m: LiveMigration): void {
    this.live.set(m.record.id, m);
  }
  /** With `m`: only if the entry is still that one (a later run of the same id may have replaced it). */
  remove(id: string, m?: LiveMigration): void {
    if (m && this.live.get(id) !== m) return;
    this.live.delete(id);
  }
  get(id: string): LiveMigration | undefined {
    return this.live.get(id);
  }
  all(): LiveMigration[] {
    return [...this.live.values()];
  }
}
