/**
 * Where the sidecars report stored state they refused to trust (src/state/state-seal.ts): a
 * record, chunk, flag or fence-vault entry that is unsealed, forged, altered or malformed is
 * never acted on, and every distinct one (name + stored text) is reported once per process:
 * a warning log line naming it and `qmig_state_rejected_total{kind}`. The `check` system check
 * `state_integrity` (src/checks/state-integrity.ts) rescans the broker, so it does not depend on
 * what this process happened to read.
 */
import { createHash } from 'node:crypto';
import { logger } from '../logging.js';
import { domainEvents } from '../events/domain-events.js';

export type StateKind =
  | 'migration'
  | 'queue_chunk'
  | 'interrupt'
  | 'transfer'
  | 'transfer_cancel'
  | 'bluegreen'
  | 'bluegreen_cancel'
  | 'bluegreen_cutover'
  | 'fence_vault'
  | 'run_marker';

const seen = new Set<string>();

export function reportRejected(kind: StateKind, name: string, reason: string, stored: unknown): void {
  const key = createHash('sha256')
    .update(kind)
    .update('\u0000')
    .update(name)
    .update('\u0000')
    .update(JSON.stringify(stored) ?? '')
    .digest('hex');
  if (seen.has(key)) return;
  if (seen.size > 10_000) seen.clear();
  seen.add(key);
  domainEvents.emit('state_rejected', { kind });
  logger.warn('stored state refused: not acted on, not listed', { state_kind: kind, state_name: name, reason });
}
