import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import { BadRequestError } from '../errors.js';
import { parseTargetUrl, parseTransferRequest, selectTransferQueues, whyNotTransferable } from './transfer-request.js';

const base = { target: 'http://10.0.0.1:15672', target_user: 'admin', target_password: 's3cret', reason: 'blue-green cut-over' };

function refused(body: Record<string, unknown>, match: RegExp): void {
  assert.throws(
    () => parseTransferRequest(body),
    (err: unknown) => {
      assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${String(err)}`);
      assert.match(err.reason, match);
      assert.doesNotMatch(err.reason, /s3cret/, 'the password never appears in an error');
      return true;
    },
  );
}

describe('parseTransferRequest', () => {
  it('accepts each of the three selections and applies the safe defaults', () => {
    const a = parseTransferRequest({ ...base, queue_names: ['a', 'b', 'a'] });
    assert.deepEqual(a.selection, { queue_names: ['a', 'b'] });
    assert.equal(a.vhost, '/');
    assert.equal(a.removeSourceQueue, false);
    assert.equal(a.target, 'http://10.0.0.1:15672');
    assert.equal(a.targetPassword, 's3cret');
    assert.deepEqual(parseTransferRequest({ ...base, pattern: '^orders\\.' }).selection, { pattern: '^orders\\.' });
    const e = parseTransferRequest({ ...base, everything: true, vhost: '/prod&x', remove_source_queue: true });
    assert.deepEqual(e.selection, { everything: true });
    assert.equal(e.vhost, '/prod&x');
    assert.equal(e.removeSourceQueue, true);
  });

  it('refuses a request without a selection and tells the caller about everything: true', () => {
    refused({ ...base }, /no queue selection.*"everything": true/);
  });

  it('refuses more than one selection, naming them', () => {
    refused({ ...base, queue_names: ['a'], pattern: 'x' }, /exactly one of .*got queue_names and pattern/);
    refused({ ...base, everything: true, pattern: 'x' }, /got pattern and everything/);
  });

  it('refuses everything: false, an empty queue_names and non-string names', () => {
    refused({ ...base, everything: false }, /everything must be true/);
    refused({ ...base, queue_names: [] }, /queue_names must not be empty/);
    refused({ ...base, queue_names: 'a' }, /queue_names must be an array/);
    refused({ ...base, queue_names: ['a', 3] }, /queue_names\[1\] must be a non-empty string/);
    refused({ ...base, queue_names: ['x'.repeat(256)] }, /longer than 255 bytes/);
  });

  it('refuses an invalid regular expression', () => {
    refused({ ...base, pattern: '([a-z' }, /pattern is not a valid regular expression/);
  });

  it('refuses unknown fields by name', () => {
    refused({ ...base, everything: true, queue: 'a' }, /unknown field 'queue'/);
  });

  it('requires target, target_user, target_password and a non-empty reason of at most 1000 characters', () => {
    const { target: _t, ...noTarget } = base;
    refused({ ...noTarget, everything: true }, /^target is required/);
    const { target_user: _u, ...noUser } = base;
    refused({ ...noUser, everything: true }, /target_user is required/);
    const { target_password: _p, ...noPassword } = base;
    refused({ ...noPassword, everything: true }, /target_password is required/);
    const { reason: _r, ...noReason } = base;
    refused({ ...noReason, everything: true }, /reason is required/);
    refused({ ...base, reason: '   ', everything: true }, /reason must not be empty/);
    refused({ ...base, reason: 'x'.repeat(1001), everything: true }, /reason must be at most 1000 characters/);
    refused({ ...base, vhost: '', everything: true }, /vhost must be a non-empty string/);
    refused({ ...base, remove_source_queue: 'yes', everything: true }, /remove_source_queue must be true or false/);
  });

  it('accepts only plain http(s) target URLs without credentials', () => {
    assert.equal(parseTargetUrl('https://rabbit.example:15671/mgmt/'), 'https://rabbit.example:15671/mgmt');
    assert.equal(parseTargetUrl('http://[::1]:15672'), 'http://[::1]:15672');
    refused({ ...base, target: 'amqp://10.0.0.1', everything: true }, /target must use http or https/);
    refused({ ...base, target: 'not a url', everything: true }, /target must be an http\(s\) URL/);
    refused({ ...base, target: 'http://u:p@10.0.0.1:15672', everything: true }, /must not contain credentials/);
    refused({ ...base, target: 'http://10.0.0.1:15672/?x=1', everything: true }, /query string/);
  });
});

const queue = (name: string, extra: Partial<BrokerQueue> = {}): BrokerQueue => ({
  name,
  vhost: 'v',
  durable: true,
  auto_delete: false,
  exclusive: false,
  arguments: {},
  ...extra,
});

describe('selectTransferQueues', () => {
  const queues = [
    queue('orders.eu'),
    queue('orders.us', { type: 'quorum', arguments: { 'x-queue-type': 'quorum' } }),
    queue('billing'),
    queue('orders.tmp', { exclusive: true }),
    queue('orders.auto', { auto_delete: true }),
    queue('events', { type: 'stream' }),
    queue('amq.gen-123'),
  ];

  it('queue_names: exact names, in the given order; missing names are skipped with a reason', () => {
    const s = selectTransferQueues(queues, { queue_names: ['billing', 'orders.eu', 'nope'] });
    assert.deepEqual(
      s.selected.map((q) => q.name),
      ['billing', 'orders.eu'],
    );
    assert.deepEqual(s.skipped, [{ name: 'nope', reason: 'queue does not exist in the vhost' }]);
  });

  it('pattern: a regular expression on the name; matching queues that cannot move are reported', () => {
    const s = selectTransferQueues(queues, { pattern: '^orders\\.' });
    assert.deepEqual(
      s.selected.map((q) => q.name),
      ['orders.eu', 'orders.us'],
    );
    assert.deepEqual(
      s.skipped.map((q) => q.name),
      ['orders.tmp', 'orders.auto'],
    );
    assert.match(s.skipped[0].reason, /exclusive/);
    assert.match(s.skipped[1].reason, /auto-delete/);
  });

  it('everything: every queue; exclusive, auto-delete, stream and amq.* queues are skipped', () => {
    const s = selectTransferQueues(queues, { everything: true });
    assert.deepEqual(
      s.selected.map((q) => q.name),
      ['orders.eu', 'orders.us', 'billing'],
    );
    assert.deepEqual(s.skipped.map((q) => q.name).sort(), ['amq.gen-123', 'events', 'orders.auto', 'orders.tmp']);
    assert.match(whyNotTransferable(queues[5])!, /stream/);
    assert.match(whyNotTransferable(queues[6])!, /reserved/);
  });
});
