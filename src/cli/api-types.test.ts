/**
 * The CLI's answer types (api-types.ts) checked against the server's contract (schemas/*.json):
 * every field a type lists exists in its schema with the same JSON types, and a field the CLI
 * counts on (not optional) is required there. The lists below are checked by the compiler to be
 * exactly the type's fields and kinds, so a drift on either side fails `npm test`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type {
  BlueGreenAppliedView,
  BlueGreenDrainAnswerView,
  BlueGreenDrainQueueView,
  BlueGreenDrainSummaryView,
  BlueGreenDrainView,
  BlueGreenPlanView,
  CheckAllReport,
  CheckReport,
  MigrationRecordView,
  QueueIssue,
  QueueStatusView,
  ReadinessItemView,
  ReadinessSubjectView,
  ReadinessView,
  StatusDetail,
  StripView,
  StatusList,
  SystemCheck,
  TransferQueueView,
  TransferView,
} from './api-types.js';

/** A field's JSON types as the CLI sees them; 'absent' for an optional field. */
type Kind<V> = V extends undefined
  ? 'absent'
  : V extends null
    ? 'null'
    : V extends string
      ? 'string'
      : V extends number
        ? 'number'
        : V extends boolean
          ? 'boolean'
          : V extends readonly unknown[]
            ? 'array'
            : 'object';
type Kinds<T> = { [K in keyof T]-?: readonly Kind<T[K]>[] };
/** Every field of T, each with every one of its kinds (the compiler refuses a missing one). */
type Complete<T, S> = {
  [K in keyof T]-?: K extends keyof S ? ([Kind<T[K]>] extends [S[K] extends readonly (infer E)[] ? E : never] ? unknown : never) : never;
};
const shape =
  <T>() =>
  <const S extends Kinds<T>>(s: S & Complete<T, S>): Record<string, readonly string[]> =>
    s as Record<string, readonly string[]>;

interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');
const load = (file: string): Schema => JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Schema;
const deref = (s: Schema): Schema => (s.$ref ? deref(load(s.$ref)) : s);

/** Properties and required fields of an object schema, allOf members merged. */
function objectOf(s: Schema): { properties: Record<string, Schema>; required: string[] } {
  s = deref(s);
  const parts = [s, ...(s.allOf ?? []).map(objectOf)];
  return {
    properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
    required: parts.flatMap((p) => p.required ?? []),
  };
}

/** The JSON types a schema allows (integer as number); null when it does not say. */
function typesOf(s: Schema): Set<string> | null {
  s = deref(s);
  const norm = (t: string) => (t === 'integer' ? 'number' : t);
  if (s.type) return new Set((Array.isArray(s.type) ? s.type : [s.type]).map(norm));
  const values = s.enum ?? ('const' in s ? [s.const] : null);
  if (values) return new Set(values.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)));
  const members = s.anyOf ?? s.oneOf ?? s.allOf?.filter((m) => typesOf(m) !== null);
  if (members && members.length > 0) {
    const all = members.map(typesOf);
    if (all.some((t) => t === null)) return null;
    return new Set(all.flatMap((t) => [...t!]));
  }
  return null;
}

/** Walks `path` (property names; '[]' for an array's items) from a schema file. */
function at(file: string, path: string[]): Schema {
  let s: Schema = load(file);
  for (const step of path) s = step === '[]' ? deref(s).items! : objectOf(s).properties[step];
  return s;
}

/** A migration as listed and as the head of status/:id: one field list for both. */
const MIGRATION_RECORD_FIELDS = {
  id: ['string'],
  display_id: ['string'],
  vhost: ['string'],
  node: ['string', 'absent'],
  started_at: ['string'],
  completed_at: ['string', 'null'],
  total_queues: ['number'],
  completed_queues: ['number'],
  skipped_queues: ['number'],
  failed_queues: ['number', 'absent'],
  progress_percentage: ['number'],
  status: ['string'],
  skip_unsuitable_queues: ['boolean'],
  tolerance: ['number', 'null'],
  error: ['string', 'null'],
  notes: ['array', 'absent'],
  not_before: ['string', 'absent'],
  waiting_reason: ['string', 'absent'],
  estimate: ['object', 'absent'],
  actual_seconds: ['number', 'absent'],
} as const;

const CASES: Array<{ type: string; schema: string; path?: string[]; fields: Record<string, readonly string[]> }> = [
  {
    type: 'SystemCheck',
    schema: 'check-response.json',
    path: ['system_checks', 'checks', '[]'],
    fields: shape<SystemCheck>()({ check_type: ['string'], status: ['string'], message: ['string'] }),
  },
  {
    type: 'QueueIssue',
    schema: 'check-response.json',
    path: ['queue_checks', 'results', '[]'],
    fields: shape<QueueIssue>()({ queue: ['string'], type: ['string'], reason: ['string'], severity: ['string'] }),
  },
  {
    type: 'CheckReport',
    schema: 'check-response.json',
    fields: shape<CheckReport>()({
      vhost: ['string'],
      skip_unsuitable_queues: ['boolean'],
      overall_ready: ['boolean'],
      queue_checks: ['object'],
      system_checks: ['object'],
    }),
  },
  {
    type: "CheckReport['queue_checks']",
    schema: 'check-response.json',
    path: ['queue_checks'],
    fields: shape<CheckReport['queue_checks']>()({ summary: ['object'], results: ['array'] }),
  },
  {
    type: "CheckReport['queue_checks']['summary']",
    schema: 'check-response.json',
    path: ['queue_checks', 'summary'],
    fields: shape<CheckReport['queue_checks']['summary']>()({
      total_queues: ['number'],
      unsuitable_queues: ['number'],
      compatibility_percentage: ['number'],
      compatible_queues: ['number'],
    }),
  },
  {
    type: "CheckReport['system_checks']",
    schema: 'check-response.json',
    path: ['system_checks'],
    fields: shape<CheckReport['system_checks']>()({ all_passed: ['boolean'], checks: ['array'] }),
  },
  {
    type: 'ReadinessView',
    schema: 'readiness-response.json',
    fields: shape<ReadinessView>()({ vhost: ['string'], ready_for_4x: ['boolean'], items: ['array'] }),
  },
  {
    type: 'ReadinessItemView',
    schema: 'readiness-response.json',
    path: ['items', '[]'],
    fields: shape<ReadinessItemView>()({ kind: ['string'], severity: ['string'], message: ['string'], fix: ['string'], subjects: ['array'] }),
  },
  {
    type: 'ReadinessSubjectView',
    schema: 'readiness-response.json',
    path: ['items', '[]', 'subjects', '[]'],
    fields: shape<ReadinessSubjectView>()({ type: ['string'], name: ['string'], detail: ['string', 'absent'], new_definition: ['object', 'null', 'absent'] }),
  },
  {
    type: 'StripView',
    schema: 'strip-mirroring-keys-response.json',
    fields: shape<StripView>()({ vhost: ['string'], policies: ['array'] }),
  },
  {
    type: 'CheckAllReport',
    schema: 'check-all-response.json',
    fields: shape<CheckAllReport>()({ vhost: ['string'], overall_ready: ['boolean'], vhosts: ['array'] }),
  },
  {
    type: 'MigrationRecordView',
    schema: 'migration-record.json',
    fields: shape<MigrationRecordView>()(MIGRATION_RECORD_FIELDS),
  },
  {
    type: 'QueueStatusView',
    schema: 'queue-status.json',
    fields: shape<QueueStatusView>()({
      resource: ['object'],
      status: ['string'],
      started_at: ['string', 'null'],
      completed_at: ['string', 'null'],
      total_messages: ['number'],
      migrated_messages: ['number'],
      progress_percentage: ['number'],
      error: ['string', 'null'],
      expired_messages: ['number', 'absent'],
      phase: ['string', 'absent'],
      location: ['string', 'absent'],
    }),
  },
  {
    type: "QueueStatusView['resource']",
    schema: 'queue-status.json',
    path: ['resource'],
    fields: shape<QueueStatusView['resource']>()({ name: ['string'], vhost: ['string'] }),
  },
  {
    type: 'StatusList',
    schema: 'status-list-response.json',
    fields: shape<StatusList>()({ status: ['string'], migrations: ['array'] }),
  },
  {
    type: 'StatusDetail',
    schema: 'status-detail-response.json',
    fields: shape<StatusDetail>()({ migration: ['object'], queues: ['array'] }),
  },
  {
    type: "StatusDetail['migration'] (MigrationRecordView)",
    schema: 'status-detail-response.json',
    path: ['migration'],
    fields: shape<StatusDetail['migration']>()(MIGRATION_RECORD_FIELDS),
  },
  {
    type: 'TransferView',
    schema: 'xfer-record.json',
    fields: shape<TransferView>()({
      id: ['string'],
      vhost: ['string'],
      target: ['string'],
      target_cluster_name: ['string'],
      selection: ['object'],
      reason: ['string'],
      who: ['string'],
      status: ['string'],
      started_at: ['string'],
      completed_at: ['string', 'null'],
      total_queues: ['number'],
      completed_queues: ['number'],
      failed_queues: ['number'],
      cancelled_queues: ['number'],
      skipped_queues: ['number'],
      expected_messages: ['number'],
      moved_messages: ['number'],
      error: ['string', 'null'],
      notes: ['array'],
      queues: ['array', 'absent'],
    }),
  },
  {
    type: 'TransferView (GET xfer list item)',
    schema: 'xfer-list.json',
    path: ['transfers', '[]'],
    fields: shape<Omit<TransferView, 'queues'>>()({
      id: ['string'],
      vhost: ['string'],
      target: ['string'],
      target_cluster_name: ['string'],
      selection: ['object'],
      reason: ['string'],
      who: ['string'],
      status: ['string'],
      started_at: ['string'],
      completed_at: ['string', 'null'],
      total_queues: ['number'],
      completed_queues: ['number'],
      failed_queues: ['number'],
      cancelled_queues: ['number'],
      skipped_queues: ['number'],
      expected_messages: ['number'],
      moved_messages: ['number'],
      error: ['string', 'null'],
      notes: ['array'],
    }),
  },
  {
    type: 'TransferQueueView',
    schema: 'xfer-record.json',
    path: ['queues', '[]'],
    fields: shape<TransferQueueView>()({
      name: ['string'],
      status: ['string'],
      expected_messages: ['number'],
      moved_messages: ['number'],
      left_at_source: ['number', 'null'],
      source_removed: ['boolean'],
      error: ['string', 'null'],
    }),
  },
  {
    type: 'BlueGreenPlanView',
    schema: 'bluegreen-plan-response.json',
    fields: shape<BlueGreenPlanView>()({
      vhost: ['string'],
      target: ['string'],
      target_cluster_name: ['string'],
      target_vhost_exists: ['boolean'],
      definitions: ['object'],
      queue_conversions: ['array'],
      policy_changes: ['array'],
      policy_shifts: ['array'],
      not_transferable: ['array'],
      diff: ['object'],
      counts: ['object'],
    }),
  },
  {
    type: "BlueGreenPlanView['not_transferable'][]",
    schema: 'bluegreen-plan-response.json',
    path: ['not_transferable', '[]'],
    fields: shape<BlueGreenPlanView['not_transferable'][number]>()({ kind: ['string'], name: ['string'], reason: ['string'] }),
  },
  {
    type: 'BlueGreenAppliedView',
    schema: 'bluegreen-definitions-response.json',
    fields: shape<BlueGreenAppliedView>()({
      vhost: ['string'],
      target: ['string'],
      vhost_created: ['boolean'],
      created: ['object'],
      counts: ['object'],
      not_transferable: ['array'],
    }),
  },
  ...['bluegreen-start-response.json', 'bluegreen-cutover-response.json', 'bluegreen-cancel-response.json'].map((schema) => ({
    type: 'BlueGreenDrainAnswerView',
    schema,
    fields: shape<BlueGreenDrainAnswerView>()({ drain_id: ['string'], status: ['string'] }),
  })),
  {
    type: 'BlueGreenDrainSummaryView[]',
    schema: 'bluegreen-list-response.json',
    path: ['[]'],
    fields: shape<BlueGreenDrainSummaryView>()({
      drain_id: ['string'],
      vhost: ['string'],
      target: ['string'],
      status: ['string'],
      started_at: ['string'],
      ended_at: ['string', 'null'],
      queues: ['number'],
      source_messages: ['number'],
      target_messages: ['number'],
    }),
  },
  {
    type: 'BlueGreenDrainView',
    schema: 'bluegreen-status-response.json',
    fields: shape<BlueGreenDrainView>()({
      drain_id: ['string'],
      vhost: ['string'],
      target: ['string'],
      target_cluster_name: ['string'],
      status: ['string'],
      reason: ['string'],
      who: ['string'],
      started_at: ['string'],
      ended_at: ['string', 'null'],
      idle_seconds: ['number'],
      remove_source_queues: ['boolean'],
      target_shovel_user: ['string'],
      cutover_requested_at: ['string', 'null'],
      cancel_requested_at: ['string', 'null'],
      error: ['string', 'null'],
      totals: ['object'],
      queues: ['array'],
    }),
  },
  {
    type: 'BlueGreenDrainQueueView',
    schema: 'bluegreen-status-response.json',
    path: ['queues', '[]'],
    fields: shape<BlueGreenDrainQueueView>()({ name: ['string'], state: ['string'], source: ['object'], target: ['object'], link: ['object'] }),
  },
];

for (const c of CASES) {
  test(`cli/api-types.ts ${c.type} agrees with schemas/${c.schema}${c.path ? ` at ${c.path.join('.')}` : ''}`, () => {
    const { properties, required } = objectOf(at(c.schema, c.path ?? []));
    for (const [field, kinds] of Object.entries(c.fields)) {
      const property = properties[field];
      assert.ok(property, `${c.type}.${field} is not in the schema`);
      if (!kinds.includes('absent')) assert.ok(required.includes(field), `${c.type}.${field} is not optional in the CLI but not required by the schema`);
      const allowed = typesOf(property);
      if (allowed === null) continue;
      assert.deepEqual(new Set(kinds.filter((k) => k !== 'absent')), allowed, `${c.type}.${field}: the CLI's JSON types differ from the schema's`);
    }
  });
}
