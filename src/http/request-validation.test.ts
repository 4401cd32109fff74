import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from '../errors.js';
import { parseJsonObject, validateBody } from './request-validation.js';
import { toMigrationOptions } from './start-options.js';

const reasonOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${err}`);
    return err.reason;
  }
  assert.fail('expected a BadRequestError');
};

test('an empty body is {} whatever the content type', () => {
  assert.deepEqual(parseJsonObject(Buffer.alloc(0), undefined), {});
  assert.deepEqual(parseJsonObject(Buffer.from('  \n'), 'text/plain'), {});
  assert.deepEqual(parseJsonObject(undefined, 'application/json'), {});
});

test('non-JSON content types, malformed JSON and non-objects are refused with a reason', () => {
  assert.match(
    reasonOf(() => parseJsonObject(Buffer.from('a=1'), 'application/x-www-form-urlencoded')),
    /must be JSON/,
  );
  assert.match(
    reasonOf(() => parseJsonObject(Buffer.from('{"a":'), 'application/json')),
    /not valid JSON/,
  );
  assert.match(
    reasonOf(() => parseJsonObject(Buffer.from('[1]'), 'application/json')),
    /must be a JSON object, got an array/,
  );
  assert.match(
    reasonOf(() => parseJsonObject(Buffer.from('null'), 'application/json; charset=utf-8')),
    /got null/,
  );
  assert.match(
    reasonOf(() => parseJsonObject(Buffer.from('"x"'), undefined)),
    /got a string/,
  );
  assert.deepEqual(parseJsonObject(Buffer.from('{"a":1}'), 'application/vnd.api+json'), { a: 1 });
});

test('start body errors name the field', () => {
  const v = (body: Record<string, unknown>) => reasonOf(() => validateBody('start-request', body));
  assert.equal(v({ tolerance: 101 }), 'tolerance must be a number between 0 and 100');
  assert.equal(v({ tolerance: '5' }), 'tolerance must be a number between 0 and 100');
  assert.equal(v({ skip_unsuitable_queues: 'yes' }), 'skip_unsuitable_queues must be true or false');
  assert.equal(v({ batch_size: -1 }), 'batch_size must be an integer >= 0 or the string "all"');
  assert.equal(v({ batch_size: 1.5 }), 'batch_size must be an integer >= 0 or the string "all"');
  assert.equal(v({ batch_order: 'random' }), 'batch_order must be "smallest_first" or "largest_first"');
  assert.equal(v({ queue_names: ['a', ''] }), 'queue_names[1] must be a non-empty string');
  assert.equal(v({ queue_names: 'a' }), 'queue_names must be an array of at most 10000 non-empty queue names');
  assert.equal(v({ set_default_queue_type: 'stream' }), 'set_default_queue_type must be "quorum" or "classic"');
  assert.equal(v({ tolerance: 5, colour: 'blue' }), "unknown field 'colour'");
});

test('vhost in a body is ignored; valid bodies pass', () => {
  assert.deepEqual(validateBody('start-request', { vhost: '/other', tolerance: 2.5, batch_size: 'all' }), { tolerance: 2.5, batch_size: 'all' });
  assert.deepEqual(validateBody('check-request', { vhost: 1 }), {});
  assert.equal(
    reasonOf(() => validateBody('check-request', { tolerance: 1 })),
    "unknown field 'tolerance'",
  );
});

test('status update body must be exactly {"status":"rollback_completed"}', () => {
  assert.deepEqual(validateBody('status-update-request', { status: 'rollback_completed' }), { status: 'rollback_completed' });
  assert.equal(
    reasonOf(() => validateBody('status-update-request', {})),
    'status is required',
  );
  assert.equal(
    reasonOf(() => validateBody('status-update-request', { status: 'completed' })),
    'status must be "rollback_completed"',
  );
});

test('start options get the spec defaults; batch_size 0 means all', () => {
  assert.deepEqual(toMigrationOptions({}), {
    skip_unsuitable_queues: false,
    tolerance: null,
    batch_size: 'all',
    batch_order: 'smallest_first',
    queue_names: null,
    allow_message_ttl: false,
    set_default_queue_type: null,
  });
  assert.equal(toMigrationOptions({ batch_size: 0 }).batch_size, 'all');
  assert.equal(toMigrationOptions({ batch_size: 7 }).batch_size, 7);
  assert.equal(toMigrationOptions({ tolerance: 0 }).tolerance, 0);
});
