/**
 * The shapes of the sidecar's answers as the client commands read them (see schemas/*.json for
 * the full contract; only the fields the commands print are listed). Checked against schemas/ by
 * api-types.test.ts: a field added, renamed or retyped here or there fails the tests.
 */

export interface SystemCheck {
  check_type: string;
  status: 'passed' | 'failed' | 'warning';
  message: string;
}

export interface QueueIssue {
  queue: string;
  type: string;
  reason: string;
  severity: 'error' | 'warning' | 'info';
}

export interface CheckReport {
  vhost: string;
  skip_unsuitable_queues: boolean;
  overall_ready: boolean;
  queue_checks: {
    summary: { total_queues: number; unsuitable_queues: number; compatibility_percentage: number; compatible_queues: number };
    results: QueueIssue[];
  };
  system_checks: { all_passed: boolean; checks: SystemCheck[] };
}

export interface CheckAllReport {
  vhost: 'all';
  overall_ready: boolean;
  vhosts: CheckReport[];
}

export interface MigrationRecordView {
  id: string;
  display_id: string;
  vhost: string;
  node?: string;
  started_at: string;
  completed_at: string | null;
  total_queues: number;
  completed_queues: number;
  skipped_queues: number;
  failed_queues?: number;
  progress_percentage: number;
  status: string;
  skip_unsuitable_queues: boolean;
  tolerance: number | null;
  error: string | null;
  notes?: string[];
  /** A scheduled run: when its window opens. */
  not_before?: string;
  /** While scheduled past not_before: why it has not opened yet. */
  waiting_reason?: string;
  /** qmig: the plan's estimate made at start, and the actual duration (so far). */
  estimate?: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string };
  actual_seconds?: number;
}

/** POST plan/:vhost (schemas/plan-response.json), the fields the CLI prints. */
export interface PlanView {
  vhost: string;
  queues: {
    name: string;
    messages: number;
    bytes: number;
    node: string | null;
    dropped_arguments: string[];
    policy: string | null;
    dropped_policy_keys: string[];
    estimated_seconds: number;
  }[];
  skipped: { name: string; reason: string }[];
  disk: { required_bytes: number; nodes: { node: string; available_bytes: number | null; fits: boolean | null }[] };
  check: { overall_ready: boolean; failed_checks: { check_type: string; message: string }[] };
  estimate: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string; concurrency: number };
  fit: { fits: boolean; needed_seconds: number; available_seconds: number } | null;
  calibration: { probe_seconds: number; fixed_seconds: number; per_message_seconds: number; per_mib_seconds: number };
}

export interface PlanAllView {
  vhost: 'all' | 'many';
  vhosts: PlanView[];
  estimate: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string };
  fit: { fits: boolean; needed_seconds: number; available_seconds: number } | null;
}

export interface QueueStatusView {
  resource: { name: string; vhost: string };
  status: string;
  started_at: string | null;
  completed_at: string | null;
  total_messages: number;
  migrated_messages: number;
  progress_percentage: number;
  error: string | null;
  /** Messages that expired during the migration (counted by the verification). */
  expired_messages?: number;
  phase?: string;
  location?: string;
}

export interface StatusList {
  status: 'in_progress' | 'not_running';
  migrations: MigrationRecordView[];
}

export interface StatusDetail {
  migration: MigrationRecordView;
  queues: QueueStatusView[];
}

export interface TransferQueueView {
  name: string;
  status: string;
  expected_messages: number;
  moved_messages: number;
  left_at_source: number | null;
  source_removed: boolean;
  error: string | null;
}

export interface TransferView {
  id: string;
  vhost: string;
  target: string;
  target_cluster_name: string;
  selection: Record<string, unknown>;
  reason: string;
  who: string;
  status: string;
  started_at: string;
  completed_at: string | null;
  total_queues: number;
  completed_queues: number;
  failed_queues: number;
  cancelled_queues: number;
  skipped_queues: number;
  expected_messages: number;
  moved_messages: number;
  error: string | null;
  notes: string[];
  queues?: TransferQueueView[];
}

/** Migration statuses in which `watch` keeps following. */
export interface ReadinessSubjectView {
  type: 'queue' | 'policy' | 'channel';
  name: string;
  detail?: string;
  new_definition?: Record<string, unknown> | null;
}

export interface ReadinessItemView {
  kind: string;
  severity: 'warning' | 'info';
  message: string;
  fix: string;
  subjects: ReadinessSubjectView[];
}

export interface ReadinessView {
  vhost: string;
  ready_for_4x: boolean;
  items: ReadinessItemView[];
}

export interface StripView {
  vhost: string;
  policies: Array<{ policy: string; removed_keys: string[]; deleted: boolean; definition: Record<string, unknown> | null }>;
}

export const ACTIVE_MIGRATION = ['pending', 'in_progress', 'paused'];
/** Transfer statuses in which `xfer --watch` keeps following. */
export const ACTIVE_TRANSFER = ['pending', 'in_progress'];

/** One object of a blue-green diff (POST bluegreen/plan/:vhost). */
export interface BlueGreenDiffEntryView {
  name: string;
  action: 'create' | 'same' | 'conflict';
  difference?: string;
}

export interface BlueGreenCountsView {
  create: number;
  same: number;
  conflict: number;
}

export type BlueGreenKind = 'policies' | 'exchanges' | 'queues' | 'bindings';

export interface NotTransferableView {
  kind: string;
  name: string;
  reason: string;
}

/** POST bluegreen/plan/:vhost (schemas/bluegreen-plan-response.json). */
export interface BlueGreenPlanView {
  vhost: string;
  target: string;
  target_cluster_name: string;
  target_vhost_exists: boolean;
  definitions: Record<BlueGreenKind, unknown[]>;
  queue_conversions: Array<{ name: string; policy: string; dropped_arguments: string[] }>;
  policy_changes: Array<{ name: string; stripped_keys: string[]; dropped: boolean }>;
  policy_shifts: Array<{ queue: string; source_policy: string | null; target_policy: string | null; target_definition: Record<string, unknown> }>;
  not_transferable: NotTransferableView[];
  diff: Record<BlueGreenKind, BlueGreenDiffEntryView[]>;
  counts: Record<BlueGreenKind | 'total', BlueGreenCountsView>;
}

/** POST bluegreen/definitions/:vhost (schemas/bluegreen-definitions-response.json). */
export interface BlueGreenAppliedView {
  vhost: string;
  target: string;
  vhost_created: boolean;
  created: Record<BlueGreenKind, string[]>;
  counts: { created: number; same: number };
  not_transferable: NotTransferableView[];
}

/** Drain statuses (GET bluegreen/status/:id): `draining` and `cutting_over` are active. */
export type BlueGreenDrainStatus = 'draining' | 'cutting_over' | 'completed' | 'cancelled' | 'failed';
export const ACTIVE_DRAIN: BlueGreenDrainStatus[] = ['draining', 'cutting_over'];

/** POST bluegreen/start/:vhost, cutover/:id and cancel/:id (schemas/bluegreen-start-response.json …). */
export interface BlueGreenDrainAnswerView {
  drain_id: string;
  status: BlueGreenDrainStatus;
}

/** One entry of GET bluegreen/status (schemas/bluegreen-list-response.json). */
export interface BlueGreenDrainSummaryView {
  drain_id: string;
  vhost: string;
  target: string;
  status: BlueGreenDrainStatus;
  started_at: string;
  ended_at: string | null;
  queues: number;
  source_messages: number;
  target_messages: number;
}

/** One queue of a drain (GET bluegreen/status/:id). */
export interface BlueGreenDrainQueueView {
  name: string;
  state: 'draining' | 'idle' | 'done' | 'cancelled' | 'failed';
  source: { messages: number; consumers: number; publishing: boolean; idle_since: string | null; removed: boolean };
  target: { messages: number; consumers: number };
  link: { state: 'running' | 'starting' | 'terminated' | 'absent'; reason: string | null };
}

/** GET bluegreen/status/:id (schemas/bluegreen-status-response.json). */
export interface BlueGreenDrainView {
  drain_id: string;
  vhost: string;
  target: string;
  target_cluster_name: string;
  status: BlueGreenDrainStatus;
  reason: string;
  who: string;
  started_at: string;
  ended_at: string | null;
  idle_seconds: number;
  remove_source_queues: boolean;
  target_shovel_user: string;
  cutover_requested_at: string | null;
  cancel_requested_at: string | null;
  error: string | null;
  totals: { queues: number; idle_queues: number; source_messages: number; target_messages: number };
  queues: BlueGreenDrainQueueView[];
}
