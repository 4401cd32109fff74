import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerRequestError } from '../errors.js';
import { describeError } from './error-description.js';

test('a management refusal names the call, its status and the broker reason', () => {
  const err = new BrokerRequestError(400, 'PUT', '/queues/v/q', 'inequivalent arg');
  assert.equal(describeError(err), 'broker refused PUT /queues/v/q (400): inequivalent arg');
});

test('an AMQP close gives the broker message; other errors their message; everything capped', () => {
  const amqp = new Error('Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg \'x-queue-type\'"');
  assert.equal(describeError(amqp), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'");
  assert.equal(describeError(new Error('socket hang up')), 'socket hang up');
  assert.equal(describeError('plain'), 'plain');
  assert.equal(describeError(new Error('x'.repeat(2000))).length, 500);
});
