import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadRequestError } from '../errors.js';
import type { MigrationOptions, MigrationRecord, MigrationStatus } from '../state/records.js';
import { MAX_TIMER_MS, SCHEDULE_HORIZON_DAYS, scheduledAction, validateSchedule } from './schedule.js';

const now = new Date('2026-12-03T10:00:00.000Z');
const at = (s: number) => new Date(now.getTime() + s * 1000).toISOString();

function record(
  status: MigrationStatus,
  options: Partial<MigrationOptions>,
  interrupt_requested = false,
): Pick<MigrationRecord, 'status' | 'options' | 'interrupt_requested'> {
  return { status, interrupt_requested, options: options as MigrationOptions };
}

test('validateSchedule: a future not_before within the horizon and before the deadline passes; no not_before: nothing to check', () => {
  validateSchedule({ not_before: at(20) }, now);
  validateSchedule({ not_before: at(20), deadline: at(21) }, now);
  validateSchedule({ not_before: at(SCHEDULE_HORIZON_DAYS * 86_400) }, now);
  validateSchedule({}, now);
  validateSchedule({ not_before: null, deadline: at(-5) }, now);
});

test('validateSchedule: 400 for a past or present not_before, one beyond the horizon, one not before the deadline', () => {
  const refused = (o: Pick<MigrationOptions, 'not_before' | 'deadline'>, re: RegExp) =>
    assert.throws(
      () => validateSchedule(o, now),
      (e: unknown) => e instanceof BadRequestError && re.test(e.message),
    );
  refused({ not_before: at(-1) }, /is not in the future/);
  refused({ not_before: at(0) }, /is not in the future/);
  refused({ not_before: at(SCHEDULE_HORIZON_DAYS * 86_400 + 1) }, /more than 30 days ahead/);
  refused({ not_before: at(60), deadline: at(60) }, /is not before the deadline/);
  refused({ not_before: at(60), deadline: at(30) }, /is not before the deadline/);
});

test('scheduledAction: before its time it waits (the timer capped), at or after it opens', () => {
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(20) }), now, false), { kind: 'wait', ms: 20_000 });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(40 * 86_400) }), now, false), { kind: 'wait', ms: MAX_TIMER_MS });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(0) }), now, false), { kind: 'open' });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(-300), deadline: at(60) }), now, false), { kind: 'open' });
});

test('scheduledAction: a cancel (flag or record) wins over everything; a deadline passed while waiting expires it', () => {
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(20) }), now, true), { kind: 'cancel' });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(-20) }, true), now, false), { kind: 'cancel' });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(-20), deadline: at(-1) }), now, true), { kind: 'cancel' });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(-20), deadline: at(-1) }), now, false), { kind: 'expire' });
  assert.deepEqual(scheduledAction(record('scheduled', { not_before: at(-20), deadline: at(0) }), now, false), { kind: 'expire' });
});

test('scheduledAction: a record no longer scheduled (opened by another sidecar, cancelled, ended) is left alone', () => {
  for (const status of ['in_progress', 'pending', 'paused', 'completed', 'failed', 'interrupted'] as const) {
    assert.deepEqual(scheduledAction(record(status, { not_before: at(-1) }), now, true), { kind: 'none' });
  }
});
