/**
 * The shapes of the check chain (POST check/:vhost answers CheckReport; start uses the same
 * report). Re-exported by assessment.ts, which is where callers import them from.
 */
export type CheckStatus = 'passed' | 'failed' | 'warning';

export interface SystemCheck {
  check_type: string;
  status: CheckStatus;
  message: string;
  /** The numbers behind the verdict (required/available MB, masters per node, …). */
  details?: Record<string, unknown>;
}

export interface QueueIssue {
  queue: string;
  type: QueueIssueType;
  reason: string;
  /** `error` makes the queue unsuitable (blocks start, or skips it in skip mode); `warning` only informs; `info` is a note (e.g. settings dropped by design). */
  severity: 'error' | 'warning' | 'info';
}

export type QueueIssueType =
  | 'exclusive'
  | 'non_durable'
  | 'unsuitable_overflow'
  | 'queue_expires'
  | 'message_ttl'
  | 'too_many_queues'
  | 'unsynchronized'
  | 'policy_would_be_lost'
  | 'policy_keys_dropped'
  | 'auto_delete';

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

/** Helpers to build a SystemCheck without repeating the literal shape. */
export function passed(check_type: string, message: string, details?: Record<string, unknown>): SystemCheck {
  return details ? { check_type, status: 'passed', message, details } : { check_type, status: 'passed', message };
}

export function failed(check_type: string, message: string, details?: Record<string, unknown>): SystemCheck {
  return details ? { check_type, status: 'failed', message, details } : { check_type, status: 'failed', message };
}

export function warning(check_type: string, message: string, details?: Record<string, unknown>): SystemCheck {
  return details ? { check_type, status: 'warning', message, details } : { check_type, status: 'warning', message };
}

export const MIB = 1024 * 1024;
