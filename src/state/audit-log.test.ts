import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog } from './audit-log.js';

test('audit records are appended to the file as one JSON line each, in order', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qmig-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  log.record({ action: 'delete_queue', migration_id: 'm1', queue: 'q1', vhost: 'v', who: 'alice', details: { type: 'classic' } });
  log.record({ action: 'interrupt_requested', migration_id: 'm1', vhost: 'v', who: 'bob' });
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(
    { ...lines[0], at: undefined },
    { audit: true, action: 'delete_queue', migration_id: 'm1', queue: 'q1', vhost: 'v', who: 'alice', details: { type: 'classic' }, at: undefined },
  );
  assert.match(lines[0].at, /^\d{4}-\d\d-\d\dT/);
  assert.equal(lines[1].queue, null);
  assert.deepEqual(lines[1].details, {});
});

test('an unwritable audit file does not throw (the structured log still has the record)', () => {
  const log = new AuditLog('/nonexistent-dir/qmig/audit.log');
  const r = log.record({ action: 'x', who: 'y' });
  assert.equal(r.action, 'x');
});
