/**
 * The body of GET status/:id, the hot path of pollers. A view of a 10,000-queue migration is
 * ≈ 3 MB of JSON; serializing it in one go blocks the event loop for tens of milliseconds, and a
 * view that keeps changing (a migration in progress: this process's, re-read every 500 ms, or
 * another sidecar's, re-read from the broker every second) would stall every request each time.
 * So:
 * - each view is serialized once (cached by identity, as the reader allows); a large one
 *   (more than SYNC_LIMIT queues) in slices of SLICE queues with a turn of the event loop between;
 *   a view read from the broker reuses the JSON of every chunk that did not change since the
 *   previous read (the reader shares those chunks), so a refresh serializes only what changed;
 * - while a new view of a large migration is being serialized, requests for that migration get
 *   the previous body at once (at most one serialization older: the reader's views are already
 *   up to a second old); only the first request for a migration waits. A route that changes a
 *   migration calls `forget(id)`, so that its caller never reads the body from before its change.
 */
import type { MigrationSnapshot } from '../state/migration-reader.js';
import type { QueueChunk } from '../state/migration-store.js';
import { presentMigrationDetail, presentQueue } from './presenters.js';

const SLICE = 500;
/** Views up to this many queues are serialized at once (a few milliseconds at most). */
const SYNC_LIMIT = 2000;
/** Migrations whose last body is kept for the next refresh (≈ 3 MB each at 10,000 queues). */
const KEEP_LAST = 16;

function serializeNow(view: MigrationSnapshot): Buffer {
  return Buffer.from(JSON.stringify({ migration: presentMigrationDetail(view.record), queues: view.queues.map(presentQueue) }), 'utf8');
}

/** Serialized queues of a stored chunk (without the brackets), kept as long as the chunk is. */
const chunkJson = new WeakMap<QueueChunk, string>();

export async function serializeDetail(view: MigrationSnapshot): Promise<Buffer> {
  const parts: string[] = [];
  if (view.chunks) {
    // A stored view: chunks unchanged since the previous read are shared with it, and so is
    // their JSON; only changed chunks are serialized, a turn of the event loop every SLICE queues.
    let sinceYield = 0;
    for (const chunk of view.chunks) {
      let json = chunkJson.get(chunk);
      if (json === undefined) {
        if (sinceYield >= SLICE) {
          await new Promise((r) => setImmediate(r));
          sinceYield = 0;
        }
        json = JSON.stringify(chunk.queues.map(presentQueue)).slice(1, -1);
        chunkJson.set(chunk, json);
        sinceYield += chunk.queues.length;
      }
      if (json.length > 0) parts.push(json);
    }
  } else {
    for (let i = 0; i < view.queues.length; i += SLICE) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      const slice = JSON.stringify(view.queues.slice(i, i + SLICE).map(presentQueue));
      if (slice.length > 2) parts.push(slice.slice(1, -1));
    }
  }
  return Buffer.from(`{"migration":${JSON.stringify(presentMigrationDetail(view.record))},"queues":[${parts.join(',')}]}`, 'utf8');
}

export class DetailBodies {
  private readonly bodies = new WeakMap<MigrationSnapshot, Buffer>();
  private readonly pending = new WeakMap<MigrationSnapshot, Promise<Buffer>>();
  private readonly last = new Map<string, Buffer>();

  /** The body of `view`, or the previous body of migration `id` while `view`'s is being made. */
  body(id: string, view: MigrationSnapshot): Buffer | Promise<Buffer> {
    const done = this.bodies.get(view);
    if (done) return done;
    if (view.queues.length <= SYNC_LIMIT) {
      const b = serializeNow(view);
      this.bodies.set(view, b);
      return b;
    }
    let making = this.pending.get(view);
    if (!making) {
      making = serializeDetail(view).then((b) => {
        this.bodies.set(view, b);
        this.pending.delete(view);
        this.last.delete(id);
        this.last.set(id, b);
        if (this.last.size > KEEP_LAST) this.last.delete(this.last.keys().next().value as string);
        return b;
      });
      this.pending.set(view, making);
      making.catch(() => this.pending.delete(view));
    }
    return this.last.get(id) ?? making;
  }

  /** The migration changed here: no earlier body of it may be answered any more. */
  forget(id: string): void {
    this.last.delete(id);
  }
}
