/**
 * Which user policy RabbitMQ applies to a classic queue of a given name (pure): of the policies
 * whose `apply-to` covers classic queues and whose pattern matches the name, the one with the
 * highest priority (ties: the broker's choice is unspecified; the first by name here).
 */
import type { BrokerPolicy } from './management-types.js';

const APPLY_TO_CLASSIC = ['all', 'queues', 'classic_queues'];

export function classicQueuePolicy(name: string, policies: readonly BrokerPolicy[]): BrokerPolicy | null {
  const matching = policies.filter((p) => {
    if (!APPLY_TO_CLASSIC.includes(p['apply-to'])) return false;
    try {
      return new RegExp(p.pattern, 'u').test(name);
    } catch {
      return false;
    }
  });
  matching.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.name < b.name ? -1 : 1));
  return matching[0] ?? null;
}

/** The policy mirrors the queues it applies to (classic queue mirroring, removed in RabbitMQ 4.0). */
export const mirrors = (p: BrokerPolicy | null): boolean => !!p && typeof p.definition === 'object' && p.definition !== null && 'ha-mode' in p.definition;
