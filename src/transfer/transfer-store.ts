/**
 * Transfer records live in the broker as global runtime parameters, like migrations, so every
 * sidecar of the cluster answers for every transfer and a restarted sidecar loses nothing:
 *   qmig.xfer.<id>           the TransferRecord (with its queues; at most MAX_QUEUES_PER_TRANSFER)
 *   qmig.xfer-cancel.<id>    a cancel request, written by whichever sidecar received it and
 *                            polled by the sidecar that runs the transfer
 * A record never contains the target password (see transfer-record.ts).
 * Both are sealed (src/state/sealed-parameters.ts): a record or cancel request that a tenant
 * wrote or altered is refused, reported, and treated as absent (not listed, not cancelled).
 */
import type { ManagementClient } from '../broker/management-client.js';
import { SealedParameters } from '../state/sealed-parameters.js';
import type { StateSeal } from '../state/state-seal.js';
import { decodeMigrationId } from '../state/migration-id.js';
import type { TransferRecord } from './transfer-record.js';
import { TRANSFER_RECORD_PREFIX, transferParameter, cancelParameter } from '../broker/names.js';

const RECORD_PREFIX = TRANSFER_RECORD_PREFIX;

export interface CancelRequest {
  requested_at: string;
  by: string;
}

export class TransferStore {
  private readonly params: SealedParameters;

  constructor(mgmt: ManagementClient, seal: StateSeal) {
    this.params = new SealedParameters(mgmt, seal);
  }

  async save(record: TransferRecord): Promise<void> {
    await this.params.put(transferParameter(record.id), record);
  }

  async load(id: string): Promise<TransferRecord | null> {
    const r = await this.params.get<TransferRecord>('transfer', transferParameter(id));
    return r && r.id === id ? r : null;
  }

  async listIds(): Promise<string[]> {
    return (await this.params.names(RECORD_PREFIX)).map((n) => n.slice(RECORD_PREFIX.length));
  }

  /** Every record, newest first. */
  async list(): Promise<TransferRecord[]> {
    const ids = await this.listIds();
    const records = await Promise.all(ids.map((id) => this.load(id)));
    return records.filter((r): r is TransferRecord => r !== null).sort(newestFirst);
  }

  async requestCancel(id: string, request: CancelRequest): Promise<void> {
    await this.params.put(cancelParameter(id), request);
  }

  async cancelRequest(id: string): Promise<CancelRequest | null> {
    return this.params.get<CancelRequest>('transfer_cancel', cancelParameter(id));
  }

  async clearCancel(id: string): Promise<void> {
    await this.params.delete(cancelParameter(id));
  }

  async delete(id: string): Promise<void> {
    await this.params.delete(transferParameter(id));
    await this.params.delete(cancelParameter(id));
  }
}

/** Newest first: by the start time in the id (milliseconds), then by id. */
export function newestFirst(a: TransferRecord, b: TransferRecord): number {
  const ms = (r: TransferRecord) => decodeMigrationId(r.id)?.startedAtMs ?? 0;
  return ms(b) - ms(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
