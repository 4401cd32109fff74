/**
 * Durable state of one running transfer: the record, written to the store (transfer-store.ts).
 * `persist` writes now (state transitions; writes are chained, each one a snapshot of the record
 * as it was when asked, so they land in order); `touch` marks the record changed, and the poller
 * writes it within a second or so (progress), or every 5 s anyway (heartbeat). The poller also
 * runs the run's `tick` (its cancel check) before each possible write.
 * A failed write is logged and the run goes on: the next write carries the change.
 */
import { sleep } from '../async/concurrency.js';
import type { Logger } from '../logging.js';
import { timestamp } from '../state/records.js';
import { recount, type TransferRecord } from './transfer-record.js';
import type { TransferStore } from './transfer-store.js';

/** Longest time without a write while the transfer runs (heartbeat). */
const HEARTBEAT_MS = 5000;

export class TransferWriter {
  private writes: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly store: TransferStore,
    private readonly record: TransferRecord,
    private readonly log: Logger,
  ) {}

  /** Writes the record now (recounted, updated_at set); resolves when written or the write failed. */
  readonly persist = (): Promise<void> => {
    const { record } = this;
    this.dirty = false;
    record.updated_at = timestamp();
    recount(record);
    const snapshot = JSON.parse(JSON.stringify(record)) as TransferRecord;
    this.writes = this.writes.catch(() => undefined).then(() => this.store.save(snapshot));
    return this.writes.catch((err) => {
      this.log.warn('cannot save the transfer record', { error: (err as Error).message });
    });
  };

  /** Marks the record changed: the poller writes it soon. */
  readonly touch = (): void => {
    this.dirty = true;
  };

  /** Every `pollMs` (at most 1 s): `tick`, then a write if the record changed or the heartbeat is due. */
  startPolling(pollMs: number, tick: () => Promise<void>): { stop(): Promise<void> } {
    let stopped = false;
    const loop = (async () => {
      let lastWrite = Date.now();
      while (!stopped) {
        await sleep(Math.min(pollMs, 1000));
        if (stopped) break;
        await tick();
        if (this.dirty || Date.now() - lastWrite > HEARTBEAT_MS) {
          lastWrite = Date.now();
          await this.persist();
        }
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
      },
    };
  }
}
