/**
 * Blue-green (pure): the transformed definitions against what the target vhost already holds.
 * Each object is `create` (absent on the target), `same` (present and equal in normal form) or
 * `conflict` (same identity — name; for a binding every field — but another type, arguments or
 * definition). A conflict is reported, never overwritten: the apply refuses the whole plan.
 * Objects the target holds and the source does not are not the diff's business (left alone).
 */
import { canonicalJson, DECLARE_ORDER, identityOf, normalDefinitions, objectName, type DefinitionKind, type VhostDefinitions } from './definitions.js';

export type DiffAction = 'create' | 'same' | 'conflict';

export interface DiffEntry {
  name: string;
  action: DiffAction;
  /** For a conflict: what differs, e.g. `arguments: target {"x-queue-type":"classic"}, plan {…}`. */
  difference?: string;
}

export interface DiffCounts {
  create: number;
  same: number;
  conflict: number;
}

export type DefinitionsDiff = Record<DefinitionKind, DiffEntry[]>;

/** The fields of two normal-form objects that differ, as one sentence. */
function difference(wanted: Record<string, unknown>, found: Record<string, unknown>): string | null {
  const fields = [...new Set([...Object.keys(wanted), ...Object.keys(found)])].filter((k) => k !== 'name').sort();
  const diffs = fields
    .filter((k) => canonicalJson(wanted[k]) !== canonicalJson(found[k]))
    .map((k) => `${k}: target ${JSON.stringify(found[k] ?? null)}, plan ${JSON.stringify(wanted[k] ?? null)}`);
  return diffs.length > 0 ? diffs.join('; ') : null;
}

export function diffDefinitions(planned: VhostDefinitions, target: VhostDefinitions | null): DefinitionsDiff {
  const want = normalDefinitions(planned);
  const have = normalDefinitions(target ?? {});
  const diff = {} as DefinitionsDiff;
  for (const kind of DECLARE_ORDER) {
    const existing = new Map<string, Record<string, unknown>>((have[kind] as unknown[]).map((o) => [identityOf(kind, o), o as Record<string, unknown>]));
    diff[kind] = (want[kind] as unknown[]).map((o) => {
      const name = objectName(kind, o);
      const found = existing.get(identityOf(kind, o));
      if (!found) return { name, action: 'create' };
      const why = difference(o as Record<string, unknown>, found);
      return why ? { name, action: 'conflict', difference: why } : { name, action: 'same' };
    });
  }
  return diff;
}

export function countDiff(entries: DiffEntry[]): DiffCounts {
  const counts: DiffCounts = { create: 0, same: 0, conflict: 0 };
  for (const e of entries) counts[e.action] += 1;
  return counts;
}

/** Counts per kind and in total. */
export function diffCounts(diff: DefinitionsDiff): Record<DefinitionKind | 'total', DiffCounts> {
  const all = DECLARE_ORDER.flatMap((k) => diff[k]);
  return { ...(Object.fromEntries(DECLARE_ORDER.map((k) => [k, countDiff(diff[k])])) as Record<DefinitionKind, DiffCounts>), total: countDiff(all) };
}

/** The conflicts, each named by its kind. */
export function conflictsOf(diff: DefinitionsDiff): Array<{ kind: DefinitionKind } & DiffEntry> {
  return DECLARE_ORDER.flatMap((kind) => diff[kind].filter((e) => e.action === 'conflict').map((e) => ({ kind, ...e })));
}

/** The planned objects the diff says to create, per kind, in normal form. */
export function toCreate(planned: VhostDefinitions, diff: DefinitionsDiff): VhostDefinitions {
  const want = normalDefinitions(planned);
  const pick = <T>(kind: DefinitionKind, list: T[]) => {
    const creating = new Set(diff[kind].filter((e) => e.action === 'create').map((e) => e.name));
    return list.filter((o) => creating.has(objectName(kind, o)));
  };
  return {
    policies: pick('policies', want.policies),
    exchanges: pick('exchanges', want.exchanges),
    queues: pick('queues', want.queues),
    bindings: pick('bindings', want.bindings),
  };
}
