import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureOf } from './api-client.js';
import { EXIT, exitCodeForStatus } from './exit-codes.js';

test('exit codes by HTTP status: 2xx ok, auth/reachability 3, refusals 1', () => {
  for (const s of [200, 202]) assert.equal(exitCodeForStatus(s), EXIT.ok);
  for (const s of [401, 403, 429, 502, 503, 504]) assert.equal(exitCodeForStatus(s), EXIT.unreachable, String(s));
  for (const s of [400, 404, 405, 409, 413, 500]) assert.equal(exitCodeForStatus(s), EXIT.failed, String(s));
});

test('failure messages carry the API reason and extras, never credentials', () => {
  const url = 'http://127.0.0.1:15680';
  const conflict = failureOf(
    { status: 409, body: { error: 'invalid_state', reason: 'Migration is not running (status: completed)', status: 'completed' } },
    url,
  );
  assert.deepEqual(conflict, { exitCode: 1, message: 'conflict (409): Migration is not running (status: completed)' });
  const refused = failureOf({ status: 400, body: { error: 'bad_request', reason: 'Found 2 queue(s) with issues', problematic_queue_count: 2 } }, url);
  assert.equal(refused.exitCode, 1);
  assert.equal(refused.message, 'refused (400): Found 2 queue(s) with issues (2 problematic queue(s))');
  const busy = failureOf({ status: 409, body: { error: 'Migration already in progress', current_migration_id: 'abc' } }, url);
  assert.match(busy.message, /conflict \(409\): Migration already in progress \(current migration: abc\)/);
  assert.equal(failureOf({ status: 404, body: { error: 'Object Not Found', reason: 'Not Found' } }, url).message, 'not found (404): Not Found');
  const unauthorized = failureOf({ status: 401, body: { error: 'not_authorized', reason: 'Login failed' } }, url);
  assert.equal(unauthorized.exitCode, 3);
  assert.match(unauthorized.message, /authentication failed at http:\/\/127\.0\.0\.1:15680 \(401\)/);
  assert.equal(failureOf({ status: 403, body: { error: 'forbidden', reason: 'needs administrator' } }, url).exitCode, 3);
  const unavailable = failureOf({ status: 503, body: { error: 'broker_unavailable', reason: 'connection refused' } }, url);
  assert.equal(unavailable.exitCode, 3);
  assert.match(unavailable.message, /cannot reach its broker \(503\): connection refused/);
  assert.equal(failureOf({ status: 500, body: 'not an object' }, url).message, 'error (500): HTTP 500');
});
