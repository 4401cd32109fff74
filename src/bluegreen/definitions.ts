/**
 * The definitions of one vhost as `GET /api/definitions/{vhost}` exports them on RabbitMQ 3.10
 * (queues, exchanges, bindings, policies of that vhost; the export carries no vhost field on
 * queues, exchanges and bindings, and leaves out exclusive queues, the default exchange and the
 * amq.* exchanges), and the pure helpers every blue-green module shares: the identity of each
 * object, its normal form (objects with sorted keys, lists in a stable order) and equality.
 */
import { canonical, canonicalJson } from '../broker/canonical-json.js';

export interface QueueDefinition {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
}

export interface ExchangeDefinition {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

export interface BindingDefinition {
  source: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Record<string, unknown>;
}

export interface PolicyDefinition {
  name: string;
  pattern: string;
  'apply-to': string;
  definition: Record<string, unknown>;
  priority: number;
}

export interface VhostDefinitions {
  queues: QueueDefinition[];
  exchanges: ExchangeDefinition[];
  bindings: BindingDefinition[];
  policies: PolicyDefinition[];
}

export type DefinitionKind = keyof VhostDefinitions;
/** The order objects are declared in on the target: policies first (a queue gets its policy from
 * its first moment), then exchanges and queues, then the bindings that join them. */
export const DECLARE_ORDER: readonly DefinitionKind[] = ['policies', 'exchanges', 'queues', 'bindings'];

export const emptyDefinitions = (): VhostDefinitions => ({ queues: [], exchanges: [], bindings: [], policies: [] });

/** Key-order-free JSON (broker/canonical-json.ts), the normal form's comparison. */
export { canonical, canonicalJson };

/** The type a queue definition declares (`x-queue-type`; none means classic). */
export function queueType(q: Pick<QueueDefinition, 'arguments'>): string {
  const t = q.arguments?.['x-queue-type'];
  return typeof t === 'string' && t !== '' ? t : 'classic';
}

/** A binding's identity: every field (the broker keeps one binding per source, destination, key, arguments). */
export function bindingKey(b: BindingDefinition): string {
  return canonicalJson([b.source, b.destination_type, b.destination, b.routing_key, b.arguments ?? {}]);
}

/** How an object of `kind` is named in diffs and answers. */
export function objectName(kind: DefinitionKind, o: unknown): string {
  if (kind === 'bindings') {
    const b = o as BindingDefinition;
    const args = Object.keys(b.arguments ?? {}).length > 0 ? ` ${canonicalJson(b.arguments)}` : '';
    return `${b.source === '' ? '(default)' : b.source} -> ${b.destination_type} ${b.destination} [${b.routing_key}]${args}`;
  }
  return (o as { name: string }).name;
}

/** The identity an object is matched by between source and target. */
export function identityOf(kind: DefinitionKind, o: unknown): string {
  return kind === 'bindings' ? bindingKey(o as BindingDefinition) : (o as { name: string }).name;
}

/** One queue definition in its normal form (x-queue-type explicit). */
export function normalQueue(q: QueueDefinition): QueueDefinition {
  return {
    name: q.name,
    durable: q.durable,
    auto_delete: q.auto_delete,
    arguments: canonical({ ...(q.arguments ?? {}), 'x-queue-type': queueType(q) }) as Record<string, unknown>,
  };
}

export function normalExchange(e: ExchangeDefinition): ExchangeDefinition {
  return {
    name: e.name,
    type: e.type,
    durable: e.durable,
    auto_delete: e.auto_delete,
    internal: e.internal,
    arguments: canonical(e.arguments ?? {}) as Record<string, unknown>,
  };
}

export function normalBinding(b: BindingDefinition): BindingDefinition {
  return {
    source: b.source,
    destination: b.destination,
    destination_type: b.destination_type,
    routing_key: b.routing_key,
    arguments: canonical(b.arguments ?? {}) as Record<string, unknown>,
  };
}

export function normalPolicy(p: PolicyDefinition): PolicyDefinition {
  return {
    name: p.name,
    pattern: p.pattern,
    'apply-to': p['apply-to'] ?? 'all',
    definition: canonical(p.definition ?? {}) as Record<string, unknown>,
    priority: p.priority ?? 0,
  };
}

/**
 * The definitions in normal form: only the four kinds and their known fields, x-queue-type
 * explicit, keys sorted, each list sorted by identity — two normal forms are equal exactly when
 * the vhosts hold the same definitions.
 */
export function normalDefinitions(d: Partial<VhostDefinitions>): VhostDefinitions {
  const byId = <T>(kind: DefinitionKind, list: T[]) =>
    [...list].sort((a, b) => (identityOf(kind, a) < identityOf(kind, b) ? -1 : identityOf(kind, a) > identityOf(kind, b) ? 1 : 0));
  return {
    queues: byId('queues', (d.queues ?? []).map(normalQueue)),
    exchanges: byId('exchanges', (d.exchanges ?? []).map(normalExchange)),
    bindings: byId('bindings', (d.bindings ?? []).map(normalBinding)),
    policies: byId('policies', (d.policies ?? []).map(normalPolicy)),
  };
}
