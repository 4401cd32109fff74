/**
 * Blue-green definitions against a broker: read a vhost's definitions (`GET /api/definitions/{vhost}`)
 * and declare the objects a plan creates on the target, in DECLARE_ORDER (policies, exchanges,
 * queues, bindings). Nothing here decides anything; definitions-transform.ts and
 * definitions-diff.ts do, purely.
 */
import { enc, reasonOf, type ManagementClient } from '../broker/management-client.js';
import { BrokerError, BrokerRequestError } from '../errors.js';
import { logger } from '../logging.js';
import {
  canonicalJson,
  DECLARE_ORDER,
  normalDefinitions,
  normalPolicy,
  objectName,
  type BindingDefinition,
  type DefinitionKind,
  type ExchangeDefinition,
  type PolicyDefinition,
  type QueueDefinition,
  type VhostDefinitions,
} from './definitions.js';

/** The vhost's definitions in normal form; null when the vhost does not exist there. */
export async function readVhostDefinitions(mgmt: ManagementClient, vhost: string): Promise<VhostDefinitions | null> {
  if (!(await mgmt.vhost(vhost))) return null;
  const exported = await mgmt.ok<Partial<VhostDefinitions>>('GET', `/definitions/${enc(vhost)}`);
  return normalDefinitions(exported);
}

export type CreatedNames = Record<DefinitionKind, string[]>;

/** A declaration the target refused part-way: what had been created before it. */
function refused(vhost: string, kind: DefinitionKind, name: string, why: string, created: CreatedNames): BrokerError {
  const done = DECLARE_ORDER.map((k) => `${created[k].length} ${k}`).join(', ');
  return new BrokerError(`the target refused ${kind.replace(/s$/, '')} '${name}' of vhost '${vhost}': ${why} (created before it: ${done})`);
}

/** Declares one object; false when an equal policy is already there (created since the diff). */
async function declare(target: ManagementClient, vhost: string, kind: DefinitionKind, o: unknown): Promise<boolean> {
  const v = enc(vhost);
  if (kind === 'policies') {
    const p = o as PolicyDefinition;
    // A policy PUT overwrites: read it back first, so one created since the diff is never replaced.
    const existing = await target.getOrNull<PolicyDefinition>(`/policies/${v}/${enc(p.name)}`);
    if (existing) {
      if (canonicalJson(normalPolicy(existing)) === canonicalJson(normalPolicy(p))) return false;
      throw new BrokerRequestError(
        409,
        'PUT',
        `/policies/${v}/${enc(p.name)}`,
        'a policy of that name appeared on the target since the plan, with another definition',
      );
    }
    await target.ok('PUT', `/policies/${v}/${enc(p.name)}`, { pattern: p.pattern, definition: p.definition, priority: p.priority, 'apply-to': p['apply-to'] });
  } else if (kind === 'exchanges') {
    const e = o as ExchangeDefinition;
    await target.declareExchange(vhost, e.name, { type: e.type, durable: e.durable, auto_delete: e.auto_delete, internal: e.internal, arguments: e.arguments });
  } else if (kind === 'queues') {
    const q = o as QueueDefinition;
    await target.declareQueue(vhost, q.name, { durable: q.durable, auto_delete: q.auto_delete, arguments: q.arguments });
  } else {
    const b = o as BindingDefinition;
    const path = `/bindings/${v}/e/${enc(b.source)}/${b.destination_type === 'queue' ? 'q' : 'e'}/${enc(b.destination)}`;
    // Idempotent although a POST: the broker keeps one binding per (source, destination, key, arguments).
    const res = await target.request('POST', path, { routing_key: b.routing_key, arguments: b.arguments }, {}, true);
    if (res.status >= 300) throw new BrokerRequestError(res.status, 'POST', path, reasonOf(res.data));
  }
  return true;
}

/**
 * Declares `create` on the target vhost (which must exist), kind by kind in DECLARE_ORDER.
 * A refusal by the target stops at once with a BrokerError (502) naming the object and what was
 * created before it (nothing is rolled back: every object created is one the plan wanted).
 */
export async function declareDefinitions(target: ManagementClient, vhost: string, create: VhostDefinitions): Promise<CreatedNames> {
  const created: CreatedNames = { policies: [], exchanges: [], queues: [], bindings: [] };
  for (const kind of DECLARE_ORDER) {
    for (const o of create[kind] as unknown[]) {
      const name = objectName(kind, o);
      let declared: boolean;
      try {
        declared = await declare(target, vhost, kind, o);
      } catch (err) {
        if (err instanceof BrokerRequestError) throw refused(vhost, kind, name, err.brokerReason, created);
        throw err;
      }
      if (!declared) continue;
      created[kind].push(name);
      logger.debug('bluegreen: declared on the target', { vhost, kind, name });
    }
  }
  return created;
}
