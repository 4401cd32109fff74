/**
 * Request bodies at the edge: malformed JSON, non-object bodies, wrong content types, unknown
 * fields, wrong types and out-of-range values → 400 naming the field; too large → 413.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationEngine } from '../../src/migration/contract.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';

const P = '/api/queue-migration';

const neverCalled: MigrationEngine = {
  async start() {
    throw new Error('the engine must not be reached with an invalid body');
  },
  async startMany() {
    throw new Error('the engine must not be reached with an invalid body');
  },
  async startRepair() {
    throw new Error('the engine must not be reached with an invalid body');
  },
  async startRollback() {
    throw new Error('the engine must not be reached with an invalid body');
  },
  async interrupt() {},
  async markRollbackCompleted(record) {
    return record;
  },
  async resumeOrphans() {},
  async shutdown() {},
};

test('start refuses bad bodies with 400 naming the field', async (t) => {
  const s = await startTestSidecar(t, { engine: () => neverCalled });
  const vhost = await testVhost(t);
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['{"tolerance": ', 'application/json', /not valid JSON/],
    ['[1,2]', 'application/json', /must be a JSON object, got an array/],
    ['42', 'application/json', /must be a JSON object, got a number/],
    ['skip_unsuitable_queues=true', 'application/x-www-form-urlencoded', /must be JSON/],
    ['{"skip_unsuitable_queues": true}', 'text/plain', /must be JSON/],
    ['{"tolerance": 150}', 'application/json', /^tolerance must be a number between 0 and 100$/],
    ['{"tolerance": -1}', 'application/json', /^tolerance must be a number between 0 and 100$/],
    ['{"tolerance": "10"}', 'application/json', /^tolerance must be a number between 0 and 100$/],
    ['{"skip_unsuitable_queues": "true"}', 'application/json', /^skip_unsuitable_queues must be true or false$/],
    ['{"batch_size": -5}', 'application/json', /^batch_size must be an integer >= 0 or the string "all"$/],
    ['{"batch_size": "some"}', 'application/json', /^batch_size /],
    ['{"batch_order": "newest"}', 'application/json', /^batch_order must be/],
    ['{"queue_names": "q1"}', 'application/json', /^queue_names must be an array/],
    ['{"queue_names": ["q1", ""]}', 'application/json', /^queue_names\[1\] must be a non-empty string$/],
    ['{"queue_names": [1]}', 'application/json', /^queue_names\[0\] must be a non-empty string$/],
    [JSON.stringify({ queue_names: Array.from({ length: 10001 }, (_, i) => `q${i}`) }), 'application/json', /^queue_names must be an array of at most 10000/],
    ['{"allow_message_ttl": 1}', 'application/json', /^allow_message_ttl must be true or false$/],
    ['{"set_default_queue_type": "stream"}', 'application/json', /^set_default_queue_type must be "quorum" or "classic"$/],
    ['{"skip_unsuitable_queues": true, "batchsize": 3}', 'application/json', /^unknown field 'batchsize'$/],
  ];
  for (const [body, type, reason] of cases) {
    const res = await s.api(`${P}/start/${encodeURIComponent(vhost)}`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
    const json = await res.json();
    assert.equal(res.status, 400, `${body.slice(0, 60)} → ${JSON.stringify(json)}`);
    assertSchema('error-response', json);
    assert.equal(json.error, 'bad_request');
    assert.match(json.reason, reason, body.slice(0, 60));
  }
});

test('check refuses unknown fields and wrong types; vhost in the body is ignored', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const post = (body: string) => s.api(`${P}/check/${encodeURIComponent(vhost)}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  let res = await post('{"tolerance": 5}');
  let json = await res.json();
  assert.equal(res.status, 400);
  assertSchema('error-response', json);
  assert.equal(json.reason, "unknown field 'tolerance'");
  res = await post('{"skip_unsuitable_queues": "no"}');
  json = await res.json();
  assert.equal(res.status, 400);
  assert.equal(json.reason, 'skip_unsuitable_queues must be true or false');
  res = await post('{"vhost": "/elsewhere", "allow_message_ttl": true}');
  json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  assert.equal(json.vhost, vhost, 'the path decides the vhost');
});

test('a body larger than QMIG_BODY_LIMIT_BYTES → 413 JSON', async (t) => {
  const s = await startTestSidecar(t, { env: { QMIG_BODY_LIMIT_BYTES: '1024' }, engine: () => neverCalled });
  const body = JSON.stringify({ queue_names: Array.from({ length: 200 }, (_, i) => `queue-${i}`) });
  assert.ok(body.length > 1024);
  const res = await s.api(`${P}/start`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const json = await res.json();
  assert.equal(res.status, 413);
  assertSchema('error-response', json);
  assert.equal(json.error, 'payload_too_large');
  assert.match(json.reason, /1024 bytes/);
});
