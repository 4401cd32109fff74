/**
 * Durable state of one running migration: the record and its queue chunks (MigrationStore).
 * Writes are coalesced: concurrent requests for the
 * same parameter are coalesced: at most one write runs and one waits; every caller's change is in
 * a write that starts after its call, so `checkpoint` still means "durable when this resolves".
 * With several queues in flight that share a chunk, this keeps checkpoints from queueing up
 * behind each other (hundreds of small queues at once).
 * After `disable()` (ownership lost) nothing more is written.
 */
import { chunkOf, chunkSizeOf, type MigrationStore } from '../state/migration-store.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { timestamp } from '../state/records.js';

export class CoalescingWriter {
  private running: Promise<void> | null = null;
  private waiting: Promise<void> | null = null;

  constructor(private readonly write: () => Promise<void>) {}

  request(): Promise<void> {
    if (this.waiting) return this.waiting;
    if (!this.running) return this.start();
    const after = this.running.catch(() => undefined);
    const waiting = after.then(() => {
      this.waiting = null;
      return this.start();
    });
    this.waiting = waiting;
    return waiting;
  }

  private start(): Promise<void> {
    const p = this.write();
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = null;
    };
    p.then(clear, clear);
    return p;
  }

  /** Resolves when nothing is being written or waiting. */
  async idle(): Promise<void> {
    while (this.running || this.waiting) await (this.waiting ?? this.running)!.catch(() => undefined);
  }
}

export class MigrationStateWriter {
  private readonly chunks = new Map<number, CoalescingWriter>();
  private readonly record: CoalescingWriter;
  private readonly dirty = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private disabled = false;
  private recordDirty = false;

  constructor(
    private readonly store: MigrationStore,
    private readonly migration: MigrationRecord,
    private readonly queues: QueueRecord[],
    private readonly touchIntervalMs = 1000,
  ) {
    this.record = new CoalescingWriter(() =>
      this.guard(() => {
        this.migration.updated_at = timestamp();
        return this.store.saveRecord(this.migration);
      }),
    );
  }

  private guard(fn: () => Promise<void>): Promise<void> {
    return this.disabled ? Promise.resolve() : fn();
  }

  private chunk(c: number): CoalescingWriter {
    let w = this.chunks.get(c);
    if (!w) this.chunks.set(c, (w = new CoalescingWriter(() => this.guard(() => this.store.saveChunk(this.migration, c, this.queues)))));
    return w;
  }

  /** Durable when resolved: the queue's chunk as it is now (or newer). */
  checkpoint(queueIndex: number): Promise<void> {
    const c = chunkOf(queueIndex, chunkSizeOf(this.migration));
    this.dirty.delete(c);
    return this.chunk(c).request();
  }

  /** Progress: written within touchIntervalMs. */
  touch(queueIndex: number): void {
    if (this.disabled) return;
    this.dirty.add(chunkOf(queueIndex, chunkSizeOf(this.migration)));
    this.schedule();
  }

  saveRecord(): Promise<void> {
    this.recordDirty = false;
    return this.record.request();
  }

  /** The record changed (counters): written within touchIntervalMs. */
  touchRecord(): void {
    if (this.disabled) return;
    this.recordDirty = true;
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flushDirty().catch(() => undefined);
    }, this.touchIntervalMs);
  }

  private async flushDirty(): Promise<void> {
    const chunks = [...this.dirty];
    this.dirty.clear();
    const writes = chunks.map((c) => this.chunk(c).request());
    if (this.recordDirty) writes.push(this.saveRecord());
    await Promise.all(writes);
  }

  /** Writes every dirty chunk and waits for every write in flight. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushDirty();
    await Promise.all([...this.chunks.values()].map((w) => w.idle()));
    await this.record.idle();
  }

  /** Every chunk and the record, now. */
  async saveAll(): Promise<void> {
    const n = Math.max(this.migration.queue_chunks, Math.ceil(this.queues.length / chunkSizeOf(this.migration)));
    await Promise.all(Array.from({ length: n }, (_, c) => this.chunk(c).request()));
    await this.saveRecord();
  }

  disable(): void {
    this.disabled = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
