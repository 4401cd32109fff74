/**
 * System check `state_integrity` (POST check/:vhost and check/all; cluster-wide): fails when the
 * broker holds qmig state that does not verify — a migration record, interrupt flag, transfer
 * record or cancel request that is unsealed, forged, altered or malformed, or a fence-vault entry
 * or run marker whose seal fails — or when QMIG_STATE_VHOST grants permissions to anyone but the
 * service account. Such state is never acted on (src/state/state-seal.ts); this check makes it
 * visible, so a CI pre-flight fails until an administrator removes it.
 *
 * It is not part of the start chain: otherwise any tenant able to write one global parameter
 * could block every migration. Queue chunks are verified when read (resume refuses a migration
 * with a bad chunk) rather than here, where they could be megabytes.
 */
import type { Context } from '../context.js';
import { migrationRecordProblem } from '../state/record-validation.js';
import { reportRejected, type StateKind } from '../state/integrity-report.js';
import { stateVhostIntruders } from '../state/state-vhost.js';
import { failed, passed, type SystemCheck } from './types.js';
import {
  BLUEGREEN_CANCEL_PREFIX,
  BLUEGREEN_CUTOVER_PREFIX,
  BLUEGREEN_RECORD_PREFIX,
  CANCEL_PREFIX,
  FENCE_PREFIX,
  INTERRUPT_PREFIX,
  RECORD_PREFIX,
  RUN_PREFIX,
  STATE_PARAMETER_PREFIX,
  TRANSFER_RECORD_PREFIX,
} from '../broker/names.js';
import { eachAtMost } from '../async/concurrency.js';

export interface RefusedState {
  kind: StateKind;
  name: string;
  reason: string;
}

export interface StateIntegrityFacts {
  refused: RefusedState[];
  intruders: string[];
}

/** Built on use: the prefixes come from modules that may import this one's importers. */
const kinds = (): Array<[string, StateKind]> => [
  [RECORD_PREFIX, 'migration'],
  [INTERRUPT_PREFIX, 'interrupt'],
  [CANCEL_PREFIX, 'transfer_cancel'],
  [TRANSFER_RECORD_PREFIX, 'transfer'],
  [BLUEGREEN_RECORD_PREFIX, 'bluegreen'],
  [BLUEGREEN_CANCEL_PREFIX, 'bluegreen_cancel'],
  [BLUEGREEN_CUTOVER_PREFIX, 'bluegreen_cutover'],
];

/** Gathers (I/O): reads and verifies qmig's global parameters and the fence vault. */
export async function gatherStateIntegrity(ctx: Context): Promise<StateIntegrityFacts> {
  const refused: RefusedState[] = [];
  const refuse = (kind: StateKind, name: string, reason: string, stored: unknown) => {
    refused.push({ kind, name, reason });
    reportRejected(kind, name, reason, stored);
  };
  const [names, queues, intruders] = await Promise.all([
    ctx.store.params.names(STATE_PARAMETER_PREFIX),
    ctx.mgmt.queues(ctx.config.stateVhost, ['name', 'arguments']).catch(() => []),
    stateVhostIntruders(ctx.mgmt, ctx.config.stateVhost, ctx.config.user).catch(() => []),
  ]);
  const table = kinds();
  const toCheck = names
    .map((name) => ({ name, kind: table.find(([p]) => name.startsWith(p))?.[1] }))
    .filter((x): x is { name: string; kind: StateKind } => !!x.kind);
  await eachAtMost(8, toCheck, async ({ name, kind }) => {
    const p = await ctx.mgmt.globalParameter<unknown>(name).catch(() => null);
    if (!p) return;
    const opened = ctx.seal.open(name, p.value);
    if (!opened.ok) refuse(kind, name, opened.reason, p.value);
    else if (kind === 'migration') {
      const problem = migrationRecordProblem(opened.value, name.slice(RECORD_PREFIX.length));
      if (problem) refuse(kind, name, problem, p.value);
    }
  });
  for (const q of queues) {
    const kind: StateKind | null = q.name.startsWith(FENCE_PREFIX) ? 'fence_vault' : q.name.startsWith(RUN_PREFIX) ? 'run_marker' : null;
    if (!kind) continue;
    const raw = q.arguments?.['x-qmig-sealed'];
    let stored: unknown = raw;
    try {
      stored = typeof raw === 'string' ? JSON.parse(raw) : raw;
    } catch {
      /* refused below */
    }
    const opened = ctx.seal.open(q.name, stored);
    if (!opened.ok) refuse(kind, q.name, opened.reason, raw);
  }
  return { refused: refused.sort((a, b) => (a.name < b.name ? -1 : 1)), intruders };
}

/** Judges (pure). */
export function judgeStateIntegrity(facts: StateIntegrityFacts, stateVhost: string): SystemCheck {
  const problems: string[] = [];
  if (facts.refused.length > 0) {
    const shown = facts.refused
      .slice(0, 5)
      .map((r) => r.name)
      .join(', ');
    problems.push(
      `${facts.refused.length} stored qmig state item(s) fail verification and are ignored (${shown}${facts.refused.length > 5 ? ', …' : ''}): written by someone other than the sidecars, or before QMIG_STATE_SECRET; an administrator should inspect and delete them`,
    );
  }
  if (facts.intruders.length > 0) {
    problems.push(
      `state vhost '${stateVhost}' grants permissions to ${facts.intruders.map((u) => `'${u}'`).join(', ')}: only the qmig service account may use it`,
    );
  }
  const details = { refused: facts.refused, state_vhost: stateVhost, state_vhost_other_users: facts.intruders };
  return problems.length > 0
    ? failed('state_integrity', problems.join('; '), details)
    : passed('state_integrity', 'All qmig state verifies; only the service account can use the state vhost', details);
}
