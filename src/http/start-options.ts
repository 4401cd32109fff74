/**
 * The validated start body (schemas/start-request.json) → MigrationOptions with the spec's
 * defaults: skip false, tolerance null (exact match), batch_size all (0 means all), smallest
 * first, every queue, no message TTL allowed, default queue type left alone, no deadline.
 */
import type { BatchOrder, MigrationOptions } from '../state/records.js';
import type { CheckOptions } from '../checks/assessment.js';

export interface StartRequestBody {
  skip_unsuitable_queues?: boolean;
  tolerance?: number;
  batch_size?: number | 'all';
  batch_order?: BatchOrder;
  queue_names?: string[];
  allow_message_ttl?: boolean;
  set_default_queue_type?: 'quorum' | 'classic';
  deadline?: string;
  not_before?: string;
  /** qmig: start even when the plan says the run would not fit before its deadline. */
  force?: boolean;
}

export interface CheckRequestBody {
  skip_unsuitable_queues?: boolean;
  allow_message_ttl?: boolean;
}

export function toMigrationOptions(body: StartRequestBody): MigrationOptions {
  return {
    skip_unsuitable_queues: body.skip_unsuitable_queues ?? false,
    tolerance: body.tolerance ?? null,
    batch_size: body.batch_size === undefined || body.batch_size === 0 ? 'all' : body.batch_size,
    batch_order: body.batch_order ?? 'smallest_first',
    queue_names: body.queue_names ?? null,
    allow_message_ttl: body.allow_message_ttl ?? false,
    set_default_queue_type: body.set_default_queue_type ?? null,
    // One spelling in the record (UTC, milliseconds), whatever offset the caller wrote.
    ...(body.deadline !== undefined ? { deadline: new Date(body.deadline).toISOString() } : {}),
    ...(body.not_before !== undefined ? { not_before: new Date(body.not_before).toISOString() } : {}),
  };
}

export function toCheckOptions(body: CheckRequestBody): CheckOptions {
  return {
    skip_unsuitable_queues: body.skip_unsuitable_queues ?? false,
    allow_message_ttl: body.allow_message_ttl ?? false,
  };
}
