/**
 * Migration records live in the broker as global runtime parameters, so that every sidecar of the
 * cluster answers for every migration and a restarted sidecar loses nothing:
 *   qmig.migration.<id>          the MigrationRecord (small)
 *   qmig.queues.<id>.<chunk>     QueueRecords, QUEUES_PER_CHUNK per parameter
 * Writes are bounded: a change to one queue rewrites only its chunk (≈ 200 queues), so a
 * migration of 10,000 queues is 50 chunks and no single write grows with the migration.
 */
import type { ManagementClient } from '../broker/management-client.js';
import type { MigrationRecord, QueueRecord } from './records.js';

export const QUEUES_PER_CHUNK = 200;
const RECORD_PREFIX = 'qmig.migration.';
const CHUNK_PREFIX = 'qmig.queues.';

export const recordParameter = (id: string) => `${RECORD_PREFIX}${id}`;
export const chunkParameter = (id: string, chunk: number) => `${CHUNK_PREFIX}${id}.${chunk}`;
export const chunkOf = (queueIndex: number) => Math.floor(queueIndex / QUEUES_PER_CHUNK);

export class MigrationStore {
  constructor(private readonly mgmt: ManagementClient) {}

  async saveRecord(record: MigrationRecord): Promise<void> {
    await this.mgmt.putGlobalParameter(recordParameter(record.id), record);
  }

  async saveChunk(id: string, chunk: number, queues: QueueRecord[]): Promise<void> {
    await this.mgmt.putGlobalParameter(chunkParameter(id, chunk), queues.slice(chunk * QUEUES_PER_CHUNK, (chunk + 1) * QUEUES_PER_CHUNK));
  }

  /** Writes every chunk, then the record (a record never points at chunks that do not exist). */
  async create(record: MigrationRecord, queues: QueueRecord[]): Promise<void> {
    record.queue_chunks = Math.ceil(queues.length / QUEUES_PER_CHUNK);
    for (let c = 0; c < record.queue_chunks; c += 8) {
      const batch = [];
      for (let k = c; k < Math.min(c + 8, record.queue_chunks); k++) batch.push(this.saveChunk(record.id, k, queues));
      await Promise.all(batch);
    }
    await this.saveRecord(record);
  }

  async loadRecord(id: string): Promise<MigrationRecord | null> {
    const p = await this.mgmt.globalParameter<MigrationRecord>(recordParameter(id));
    return p ? p.value : null;
  }

  async loadQueues(record: MigrationRecord): Promise<QueueRecord[]> {
    const chunks = await Promise.all(
      Array.from({ length: record.queue_chunks }, (_, c) => this.mgmt.globalParameter<QueueRecord[]>(chunkParameter(record.id, c))),
    );
    return chunks.flatMap((p) => (p ? p.value : []));
  }

  async listIds(): Promise<string[]> {
    const params = await this.mgmt.ok<Array<{ name: string }>>('GET', '/global-parameters', undefined, { params: { columns: 'name' } });
    return params.filter((p) => p.name.startsWith(RECORD_PREFIX)).map((p) => p.name.slice(RECORD_PREFIX.length));
  }

  /** Every record, most recent first. */
  async listRecords(): Promise<MigrationRecord[]> {
    const ids = await this.listIds();
    const records = await Promise.all(ids.map((id) => this.loadRecord(id)));
    return records.filter((r): r is MigrationRecord => r !== null).sort(newestFirst);
  }

  async delete(record: MigrationRecord): Promise<void> {
    await this.mgmt.deleteGlobalParameter(recordParameter(record.id));
    await Promise.all(Array.from({ length: record.queue_chunks }, (_, c) => this.mgmt.deleteGlobalParameter(chunkParameter(record.id, c))));
  }
}

export function newestFirst(a: MigrationRecord, b: MigrationRecord): number {
  return a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.id < b.id ? 1 : -1;
}

/**
 * Persists the queue records of a running migration: `touch` marks a queue changed and writes
 * its chunk within `intervalMs` (progress), `checkpoint` writes it now and resolves when the broker
 * has it (phase changes before destructive steps). Writes of one chunk never overlap.
 */
export class QueueChunkWriter {
  private readonly dirty = new Set<number>();
  private readonly writing = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: MigrationStore,
    private readonly id: string,
    private readonly queues: QueueRecord[],
    private readonly intervalMs = 1000,
  ) {}

  touch(queueIndex: number): void {
    this.dirty.add(chunkOf(queueIndex));
    if (!this.timer) this.timer = setTimeout(() => void this.flush().catch(() => undefined), this.intervalMs);
  }

  async checkpoint(queueIndex: number): Promise<void> {
    await this.write(chunkOf(queueIndex));
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const chunks = [...this.dirty];
    await Promise.all(chunks.map((c) => this.write(c)));
  }

  private write(chunk: number): Promise<void> {
    this.dirty.delete(chunk);
    const previous = this.writing.get(chunk) ?? Promise.resolve();
    // Chain after the previous write of this chunk; the chunk is serialised when the write starts,
    // so the newest in-memory state is what lands last.
    const next = previous.catch(() => undefined).then(() => this.store.saveChunk(this.id, chunk, this.queues));
    this.writing.set(chunk, next);
    next.finally(() => {
      if (this.writing.get(chunk) === next) this.writing.delete(chunk);
    }).catch(() => undefined);
    return next;
  }
}
