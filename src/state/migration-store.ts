/**
 * Migration records live in the broker as global runtime parameters, so that every sidecar of the
 * cluster answers for every migration and a restarted sidecar loses nothing:
 *   qmig.migration.<id>          the MigrationRecord (small)
 *   qmig.queues.<id>.<chunk>     QueueRecords, QUEUES_PER_CHUNK per parameter
 * Writes are bounded: a change to one queue rewrites only its chunk (≈ 200 queues), so a
 * migration of 10,000 queues is 50 chunks and no single write grows with the migration. The
 * running migration coalesces its chunk writes in src/migration/state-writer.ts.
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
