/**
 * Drain records and requests in the broker, sealed (state/sealed-parameters.ts), like transfers:
 *   qmig.bluegreen.<id>           the DrainRecord, written only by the sidecar holding its lock;
 *   qmig.bluegreen-cancel.<id>    a cancel request, and
 *   qmig.bluegreen-cutover.<id>   a cut-over request: written by whichever sidecar received the
 *                                 call, read by the monitor, deleted when the drain ends.
 * Requests are parameters of their own (not fields of the record) so that the record has one
 * writer. A record or request that a tenant wrote or altered does not verify: reported and treated
 * as absent (not listed, not acted on).
 */
import type { ManagementClient } from '../broker/management-client.js';
import { BLUEGREEN_RECORD_PREFIX, drainCancelParameter, drainCutoverParameter, drainParameter } from '../broker/names.js';
import { decodeMigrationId } from '../state/migration-id.js';
import { SealedParameters } from '../state/sealed-parameters.js';
import type { StateSeal } from '../state/state-seal.js';
import type { DrainRecord } from './drain-record.js';

export interface DrainRequest {
  requested_at: string;
  by: string;
}

export class DrainStore {
  private readonly params: SealedParameters;

  constructor(mgmt: ManagementClient, seal: StateSeal) {
    this.params = new SealedParameters(mgmt, seal);
  }

  async save(record: DrainRecord): Promise<void> {
    await this.params.put(drainParameter(record.id), record);
  }

  async load(id: string): Promise<DrainRecord | null> {
    const r = await this.params.get<DrainRecord>('bluegreen', drainParameter(id));
    return r && r.id === id ? r : null;
  }

  /** Every verified record, newest first. */
  async list(): Promise<DrainRecord[]> {
    const ids = (await this.params.names(BLUEGREEN_RECORD_PREFIX)).map((n) => n.slice(BLUEGREEN_RECORD_PREFIX.length));
    const records = await Promise.all(ids.map((id) => this.load(id).catch(() => null)));
    const ms = (r: DrainRecord) => decodeMigrationId(r.id)?.startedAtMs ?? 0;
    return records.filter((r): r is DrainRecord => r !== null).sort((a, b) => ms(b) - ms(a) || (a.id < b.id ? 1 : -1));
  }

  async request(kind: 'cancel' | 'cutover', id: string, request: DrainRequest): Promise<void> {
    await this.params.put(kind === 'cancel' ? drainCancelParameter(id) : drainCutoverParameter(id), request);
  }

  async requested(kind: 'cancel' | 'cutover', id: string): Promise<DrainRequest | null> {
    return kind === 'cancel'
      ? this.params.get<DrainRequest>('bluegreen_cancel', drainCancelParameter(id))
      : this.params.get<DrainRequest>('bluegreen_cutover', drainCutoverParameter(id));
  }

  async clearRequests(id: string): Promise<void> {
    await this.params.delete(drainCancelParameter(id));
    await this.params.delete(drainCutoverParameter(id));
  }

  async delete(id: string): Promise<void> {
    await this.params.delete(drainParameter(id));
    await this.clearRequests(id);
  }
}
