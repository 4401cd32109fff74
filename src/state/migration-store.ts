/**
 * Migration records live in the broker as global runtime parameters, so that every sidecar of the
 * cluster answers for every migration and a restarted sidecar loses nothing:
 *   qmig.migration.<id>          the MigrationRecord (small)
 *   qmig.queues.<id>.<chunk>     QueueRecords, `queue_chunk_size` per parameter
 * Writes are bounded: a change to one queue rewrites only its chunk. Chunks are as small as
 * 50 chunks a migration allow, between 25 and 200 queues: every checkpoint rewrites a whole chunk
 * in a replicated broker transaction, and 200-queue chunks (≈ 100 KB) written several times per
 * queue stalled the broker for seconds in a 500-queue migration; a 10,000-queue migration is
 * still 50 chunks to read. The running migration coalesces its chunk writes in
 * src/migration/state-writer.ts.
 *
 * Every parameter is sealed (src/state/sealed-parameters.ts): a record or chunk that does not
 * verify — or a record whose shape qmig would not write (record-validation.ts) — is reported
 * and treated as absent, so nothing lists, resumes, housekeeps or restores from it.
 */
import type { ManagementClient } from '../broker/management-client.js';
import type { MigrationRecord, QueueRecord } from './records.js';
import { reportRejected } from './integrity-report.js';
import { migrationRecordProblem } from './record-validation.js';
import { SealedParameters } from './sealed-parameters.js';
import type { StateSeal } from './state-seal.js';
import { RECORD_PREFIX, recordParameter, chunkParameter } from '../broker/names.js';

export const MAX_QUEUES_PER_CHUNK = 200;
export const MIN_QUEUES_PER_CHUNK = 25;
const TARGET_CHUNKS = 50;

/** Queues per chunk for a new migration of `total` queues. */
export const chunkSizeFor = (total: number) => Math.min(MAX_QUEUES_PER_CHUNK, Math.max(MIN_QUEUES_PER_CHUNK, Math.ceil(total / TARGET_CHUNKS)));
/** Queues per chunk of a stored migration (records from before the field: 200). */
export const chunkSizeOf = (record: Pick<MigrationRecord, 'queue_chunk_size'>) => record.queue_chunk_size ?? MAX_QUEUES_PER_CHUNK;
export const chunkOf = (queueIndex: number, chunkSize: number) => Math.floor(queueIndex / chunkSize);

/** One stored chunk of queue records and the text it was parsed from. */
export interface QueueChunk {
  text: string;
  queues: QueueRecord[];
}

export class MigrationStore {
  readonly params: SealedParameters;

  constructor(mgmt: ManagementClient, seal: StateSeal) {
    this.params = new SealedParameters(mgmt, seal);
  }

  async saveRecord(record: MigrationRecord): Promise<void> {
    await this.params.put(recordParameter(record.id), record);
  }

  async saveChunk(record: Pick<MigrationRecord, 'id' | 'queue_chunk_size'>, chunk: number, queues: QueueRecord[]): Promise<void> {
    const size = chunkSizeOf(record);
    await this.params.put(chunkParameter(record.id, chunk), queues.slice(chunk * size, (chunk + 1) * size));
  }

  /** Writes every chunk, then the record (a record never points at chunks that do not exist). */
  async create(record: MigrationRecord, queues: QueueRecord[]): Promise<void> {
    record.queue_chunk_size ??= chunkSizeFor(queues.length);
    record.queue_chunks = Math.ceil(queues.length / record.queue_chunk_size);
    for (let c = 0; c < record.queue_chunks; c += 8) {
      const batch = [];
      for (let k = c; k < Math.min(c + 8, record.queue_chunks); k++) batch.push(this.saveChunk(record, k, queues));
      await Promise.all(batch);
    }
    await this.saveRecord(record);
  }

  /** The record, or null when absent or refused (unsealed, forged, malformed: reported). */
  async loadRecord(id: string): Promise<MigrationRecord | null> {
    const name = recordParameter(id);
    const record = await this.params.get<MigrationRecord>('migration', name);
    if (record === null) return null;
    const problem = migrationRecordProblem(record, id);
    if (problem === null) return record;
    reportRejected('migration', name, problem, record);
    return null;
  }

  /**
   * The queue chunks of `record`, each parsed only when its text differs from the one in
   * `previous` (which is then reused as is): a reader that re-reads a large migration every
   * second parses the few chunks that changed, not all fifty.
   */
  async loadQueueChunks(record: MigrationRecord, previous?: QueueChunk[]): Promise<QueueChunk[]> {
    const texts = await Promise.all(Array.from({ length: record.queue_chunks }, (_, c) => this.params.text(chunkParameter(record.id, c))));
    return texts.map((text, c) => {
      if (text === null) return { text: '', queues: [] };
      const before = previous?.[c];
      if (before && before.text === text) return before;
      const queues = this.params.open<QueueRecord[]>('queue_chunk', chunkParameter(record.id, c), (JSON.parse(text) as { value: unknown }).value);
      return { text, queues: Array.isArray(queues) ? queues : [] };
    });
  }

  /** Queues of every chunk that verifies (a refused chunk is reported and contributes none). */
  async loadQueues(record: MigrationRecord): Promise<QueueRecord[]> {
    return (await this.verifiedChunks(record)).flatMap((q) => q ?? []);
  }

  /** Every queue, or null when a chunk is missing or refused (a resume needs all of them). */
  async loadAllQueues(record: MigrationRecord): Promise<QueueRecord[] | null> {
    const chunks = await this.verifiedChunks(record);
    return chunks.every((q) => q !== null) ? chunks.flatMap((q) => q ?? []) : null;
  }

  private async verifiedChunks(record: MigrationRecord): Promise<Array<QueueRecord[] | null>> {
    const chunks = await Promise.all(
      Array.from({ length: record.queue_chunks }, (_, c) => this.params.get<QueueRecord[]>('queue_chunk', chunkParameter(record.id, c))),
    );
    return chunks.map((q) => (Array.isArray(q) ? q : null));
  }

  async listIds(): Promise<string[]> {
    return (await this.params.names(RECORD_PREFIX)).map((n) => n.slice(RECORD_PREFIX.length));
  }

  /** Every record, most recent first. */
  async listRecords(): Promise<MigrationRecord[]> {
    const ids = await this.listIds();
    const records = await Promise.all(ids.map((id) => this.loadRecord(id)));
    return records.filter((r): r is MigrationRecord => r !== null).sort(newestFirst);
  }

  async delete(record: MigrationRecord): Promise<void> {
    await this.params.delete(recordParameter(record.id));
    await Promise.all(Array.from({ length: record.queue_chunks }, (_, c) => this.params.delete(chunkParameter(record.id, c))));
  }
}

export function newestFirst(a: MigrationRecord, b: MigrationRecord): number {
  return a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.id < b.id ? 1 : -1;
}
