import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MigrationRecord } from '../state/records.js';
import { recordsToPrune } from './housekeeping.js';

const rec = (id: string, status: MigrationRecord['status'], started_at: string, completed_at: string | null) =>
  ({ id, status, started_at, completed_at }) as MigrationRecord;

test('recordsToPrune: finished records past the retention, never active ones', () => {
  const now = new Date('2026-03-31T12:00:00Z');
  const records = [
    rec('old-done', 'completed', '2026-02-01 10:00:00', '2026-02-01 10:05:00'),
    rec('recent', 'completed', '2026-03-31 10:00:00', '2026-03-31 10:05:00'),
    rec('old-active', 'in_progress', '2026-01-01 10:00:00', null),
    rec('old-rollback', 'rollback_pending', '2026-02-10 10:00:00', '2026-02-10 11:00:00'),
    rec('edge', 'interrupted', '2026-03-01 11:00:00', '2026-03-01 12:00:00'),
  ];
  assert.deepEqual(
    recordsToPrune(records, 30, now).map((r) => r.id),
    ['old-done', 'old-rollback'],
  );
  assert.deepEqual(
    recordsToPrune(records, 1, now).map((r) => r.id),
    ['old-done', 'old-rollback', 'edge'],
  );
});
