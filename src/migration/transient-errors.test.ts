import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerError, BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import { isTransient, QueueFailure } from './queue-runner.js';

test('isTransient: an unreachable broker and a node that is stopping or booting are retried; refusals are not', () => {
  assert.equal(isTransient(new BrokerUnavailableError('management API at http://x unreachable: ECONNRESET')), true);
  assert.equal(isTransient(new BrokerError('502 from the broker')), true);
  assert.equal(isTransient(new Error('Connection closed: 320 (CONNECTION-FORCED)')), true);
  // 3.10 answers a declare placed on a node that is booting with this 400.
  assert.equal(isTransient(new BrokerRequestError(400, 'PUT', '/queues/v/q', "Request to node test2@localhost failed with {'EXIT',{badarg,[{ets,match,[rabbit_registry]}]}}")), true);
  assert.equal(isTransient(new BrokerRequestError(400, 'PUT', '/queues/v/q', "inequivalent arg 'x-queue-type' for queue 'q'")), false);
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/queues/v/q', 'Object Not Found')), false);
  assert.equal(isTransient(new QueueFailure('expected 10 messages, found 9 (ECONNRESET in a queue name)')), false);
});
