/**
 * The readiness report's opt-in action (POST readiness/:vhost/strip-mirroring-keys): removes the
 * classic queue mirroring keys from the named policies of a vhost — the `strip_cmq_keys_from_policies`
 * transform applied in place — and deletes a policy that is left with nothing (`drop_empty_policies`).
 * Every other key, the pattern, apply-to and priority stay as they are.
 *
 * Refused as a whole (nothing written) when a named policy does not exist, has no mirroring keys, or
 * still mirrors a queue: stripping it would take those queues' mirrors away on this 3.x cluster
 * (migrate them first). The broker's own `policy` field of each queue says what a policy applies to.
 */
import { enc } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { BadRequestError, InvalidStateError } from '../errors.js';
import { auditLog } from '../state/audit-log.js';
import { MIRRORING_KEYS, queuesMirroredBy, strippedDefinition } from './readiness.js';

export interface StrippedPolicy {
  policy: string;
  removed_keys: string[];
  /** Nothing was left: the policy was deleted. */
  deleted: boolean;
  /** The definition after the edit (null when deleted). */
  definition: Record<string, unknown> | null;
}

/** `who`: the calling user, named on the audit line of each policy changed. */
export async function stripMirroringKeys(ctx: Context, vhost: string, names: readonly string[], who: string): Promise<StrippedPolicy[]> {
  const mgmt = ctx.mgmt;
  const [policies, queues] = await Promise.all([
    mgmt.policies(vhost),
    mgmt.queues(vhost, ['name', 'type', 'policy', 'slave_nodes', 'effective_policy_definition']),
  ]);
  const unique = [...new Set(names)];
  const missing = unique.filter((n) => !policies.some((p) => p.name === n));
  if (missing.length > 0) throw new BadRequestError(`no such policy in vhost '${vhost}': ${missing.join(', ')}`, { policies: missing });
  const chosen = unique.map((n) => policies.find((p) => p.name === n)!);
  const withoutKeys = chosen.filter((p) => !MIRRORING_KEYS.some((k) => k in p.definition)).map((p) => p.name);
  if (withoutKeys.length > 0) throw new BadRequestError(`policy has no mirroring keys: ${withoutKeys.join(', ')}`, { policies: withoutKeys });
  const inUse = chosen.map((p) => ({ policy: p.name, queues: queuesMirroredBy(p.name, queues).map((q) => q.name) })).filter((u) => u.queues.length > 0);
  if (inUse.length > 0) {
    const list = inUse
      .map((u) => `${u.policy} mirrors ${u.queues.length} queue(s) (${u.queues.slice(0, 5).join(', ')}${u.queues.length > 5 ? ', …' : ''})`)
      .join('; ');
    throw new InvalidStateError(`stripping would remove the mirrors of queues that still depend on them: ${list}; migrate them first`, 'policy_in_use');
  }
  const changed: StrippedPolicy[] = [];
  for (const p of chosen) {
    const definition = strippedDefinition(p.definition);
    const path = `/policies/${enc(vhost)}/${enc(p.name)}`;
    if (definition) await mgmt.ok('PUT', path, { pattern: p.pattern, 'apply-to': p['apply-to'], priority: p.priority, definition });
    else await mgmt.deleteIfExists(path);
    const done: StrippedPolicy = { policy: p.name, removed_keys: MIRRORING_KEYS.filter((k) => k in p.definition), deleted: definition === null, definition };
    auditLog(ctx.config.auditLogFile).record({ action: 'strip_mirroring_keys', vhost, who, details: { ...done, before: p.definition } });
    changed.push(done);
  }
  return changed;
}
