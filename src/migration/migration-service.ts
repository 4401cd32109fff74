/**
 * The migration engine's entry point (issue 3 fills this in). STUB: start answers 501.
 */
import type { Context } from '../context.js';
import { NotImplementedError, ObjectNotFoundError } from '../errors.js';
import type { MigrationOptions } from '../state/records.js';
import type { Caller, MigrationEngine } from './contract.js';

export class MigrationService implements MigrationEngine {
  constructor(private readonly ctx: Context) {}

  async start(vhost: string, options: MigrationOptions, caller: Caller): Promise<{ migration_id: string }> {
    void vhost;
    void options;
    void caller;
    throw new NotImplementedError('The migration engine is not implemented yet');
  }

  async interrupt(id: string, caller: Caller): Promise<void> {
    void caller;
    const record = await this.ctx.store.loadRecord(id);
    if (!record) throw new ObjectNotFoundError();
    throw new NotImplementedError('The migration engine is not implemented yet');
  }

  async resumeOrphans(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
