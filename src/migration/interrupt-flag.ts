/**
 * Whether a run was asked to stop: the local flag (this sidecar's `interrupt`), or the sealed
 * global parameter that any sidecar may write (src/broker/names.ts interruptParameter). Read
 * before each queue starts; once seen, `record.interrupt_requested` is set and stays.
 */
import { interruptParameter } from '../broker/names.js';
import type { Context } from '../context.js';
import type { Logger } from '../logging.js';
import type { MigrationRecord } from '../state/records.js';

export class InterruptFlag {
  private local = false;
  private check: { value: Promise<boolean> } | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly record: MigrationRecord,
    private readonly log: Logger,
  ) {}

  setLocally(): void {
    this.local = true;
  }

  async requested(): Promise<boolean> {
    if (this.local || this.record.interrupt_requested) return this.mark();
    try {
      // Single flight: workers asking at the same moment share one read; each later ask reads anew.
      if (!this.check) {
        // Sealed: a flag that a tenant wrote (or copied from another migration) is refused and reported.
        const value = this.ctx.store.params.get('interrupt', interruptParameter(this.record.id)).then((p) => p !== null);
        const check = { value };
        this.check = check;
        const clear = () => {
          if (this.check === check) this.check = null;
        };
        value.then(clear, clear);
      }
      const requested = await this.check.value;
      return requested ? this.mark() : false;
    } catch (err) {
      // A broker blip must not end the migration; the next queue asks again.
      this.check = null;
      this.log.warn('cannot read the interrupt flag', { error: (err as Error).message });
      return false;
    }
  }

  private mark(): true {
    if (!this.record.interrupt_requested) {
      this.record.interrupt_requested = true;
      this.log.info('interrupt requested: queues in flight finish, the rest are skipped');
    }
    return true;
  }
}
