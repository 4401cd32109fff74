/**
 * The read side of the API. Migrations running in this process answer from memory (`ctx.live`,
 * the freshest truth); everything else comes from the broker-held store through a short
 * single-flight cache, so that hundreds of status polls per second of a 10,000-queue migration
 * cost one broker read per second, not one per request.
 *
 * Views are immutable-by-convention objects that stay the same object while the cache holds
 * them: callers may cache what they derive from a view (e.g. its serialized JSON) by identity.
 */
import type { Context } from '../context.js';
import { newestFirst, type QueueChunk } from './migration-store.js';
import { isFinalStatus, type MigrationRecord, type QueueRecord } from './records.js';

export interface MigrationSnapshot {
  record: MigrationRecord;
  queues: QueueRecord[];
  source: 'live' | 'store';
  /** Stored views: the chunks `queues` is made of (unchanged ones shared with the previous view). */
  chunks?: QueueChunk[];
}

interface Cached<T> {
  value: Promise<T>;
  expires: number;
}

interface DetailEntry extends Cached<MigrationSnapshot | null> {
  /** The resolved value, once there is one. */
  settled?: MigrationSnapshot | null;
  /** A background refresh is running. */
  refreshing?: boolean;
}

interface ListEntry extends Cached<MigrationRecord[]> {
  settled?: MigrationRecord[];
  refreshing?: boolean;
}

export interface MigrationReaderOptions {
  /** How long a broker read is reused. */
  storeTtlMs?: number;
  /** How long a view of a live migration is reused (it keeps changing). */
  liveTtlMs?: number;
}

export class MigrationReader {
  private readonly details = new Map<string, DetailEntry>();
  private list: ListEntry | null = null;
  /** Bumped by every invalidation; reads started before it do not fill the cache. */
  private epoch = 0;
  private readonly storeTtlMs: number;
  private readonly liveTtlMs: number;

  constructor(
    private readonly ctx: Context,
    options: MigrationReaderOptions = {},
  ) {
    this.storeTtlMs = options.storeTtlMs ?? 1000;
    this.liveTtlMs = options.liveTtlMs ?? 500;
  }

  /** Every migration, newest first (live records replace their stored copies). */
  async listRecords(): Promise<MigrationRecord[]> {
    const stored = await this.storedList();
    const live = new Map(this.ctx.live.all().map((m) => [m.record.id, m.record]));
    const merged = stored.map((r) => live.get(r.id) ?? r);
    const storedIds = new Set(stored.map((r) => r.id));
    for (const r of live.values()) if (!storedIds.has(r.id)) merged.push(r);
    return merged.sort(newestFirst);
  }

  /** The stored records, stale-while-revalidate like `get`. */
  private storedList(): Promise<MigrationRecord[]> {
    const cached = this.list;
    if (cached && (cached.expires > Date.now() || cached.settled === undefined)) return cached.value;
    if (cached?.settled) {
      if (!cached.refreshing) {
        cached.refreshing = true;
        this.loadList(false).catch(() => {
          cached.refreshing = false;
        });
      }
      return Promise.resolve(cached.settled);
    }
    return this.loadList(true);
  }

  private loadList(first: boolean): Promise<MigrationRecord[]> {
    const epoch = this.epoch;
    const value = this.ctx.store.listRecords();
    const entry: ListEntry = { value, expires: Number.POSITIVE_INFINITY };
    if (first) this.list = entry;
    value.then(
      (records) => {
        entry.settled = records;
        entry.expires = Date.now() + this.storeTtlMs;
        if (!first && epoch === this.epoch) this.list = entry;
      },
      () => {
        if (this.list === entry) this.list = null;
      },
    );
    return value;
  }

  /**
   * A migration and its queues, or null when there is no such migration. A stale cached view is
   * answered at once while one background read refreshes it (stale-while-revalidate), so pollers
   * never wait for the 50 chunk reads of a 10,000-queue migration except on the very first read.
   */
  get(id: string): Promise<MigrationSnapshot | null> {
    const now = Date.now();
    const live = this.ctx.live.get(id);
    const cached = this.details.get(id);
    if (live) {
      // A migration that just became live is not answered from an older stored copy.
      if (cached && cached.settled?.source === 'live' && cached.expires > now) return cached.value;
      return this.load(id, undefined);
    }
    if (!cached || cached.settled?.source === 'live') return this.load(id, undefined);
    if (cached.expires > now || cached.settled === undefined) return cached.value;
    if (cached.settled === null) return this.load(id, undefined); // unknown a second ago: ask again now
    if (!cached.refreshing) {
      cached.refreshing = true;
      this.load(id, cached.settled).catch(() => {
        cached.refreshing = false;
      });
    }
    return Promise.resolve(cached.settled);
  }

  private load(id: string, previous: MigrationSnapshot | null | undefined): Promise<MigrationSnapshot | null> {
    const live = this.ctx.live.get(id);
    const value: Promise<MigrationSnapshot | null> = live
      ? Promise.resolve({ record: live.record, queues: live.queues, source: 'live' as const })
      : this.loadStored(id, previous ?? null);
    const ttl = live ? this.liveTtlMs : this.storeTtlMs;
    const first = previous === undefined;
    const epoch = this.epoch;
    const entry: DetailEntry = { value, expires: Number.POSITIVE_INFINITY };
    if (first) this.details.set(id, entry);
    value.then(
      (snapshot) => {
        entry.settled = snapshot;
        entry.expires = Date.now() + ttl;
        // A refresh replaces the stale entry only when done, and never after an invalidation
        // (it may have read the broker before this process changed the record).
        if (!first && epoch === this.epoch) this.details.set(id, entry);
      },
      () => {
        if (this.details.get(id) === entry) this.details.delete(id);
      },
    );
    this.pruneExpired();
    return value;
  }

  /** The record as it is now (no cache): for routes that change it. */
  async current(id: string): Promise<MigrationRecord | null> {
    const live = this.ctx.live.get(id);
    if (live) return live.record;
    return this.ctx.store.loadRecord(id);
  }

  /** Forget what is cached about `id` (after this process changed it). */
  invalidate(id: string): void {
    this.epoch++;
    this.details.delete(id);
    this.list = null;
  }

  private async loadStored(id: string, previous: MigrationSnapshot | null): Promise<MigrationSnapshot | null> {
    const record = await this.ctx.store.loadRecord(id);
    if (!record) return null;
    // A finished migration's queues no longer change: when its record did not change either,
    // the previous view (and whatever callers derived from it) stays valid.
    if (previous && previous.source === 'store' && isFinalStatus(record.status) && JSON.stringify(previous.record) === JSON.stringify(record)) {
      return previous;
    }
    const chunks = await this.ctx.store.loadQueueChunks(record, previous?.source === 'store' ? previous.chunks : undefined);
    return { record, queues: chunks.flatMap((c) => c.queues), source: 'store', chunks };
  }

  private pruneExpired(): void {
    if (this.details.size < 1000) return;
    const now = Date.now();
    for (const [id, e] of this.details) if (e.expires <= now) this.details.delete(id);
  }
}
