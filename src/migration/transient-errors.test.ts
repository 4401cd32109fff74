import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerError, BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import { isTransient, QueueFailure } from './queue-errors.js';

test('isTransient: an unreachable broker and a node that is stopping or booting are retried; refusals are not', () => {
  assert.equal(isTransient(new BrokerUnavailableError('management API at http://x unreachable: ECONNRESET')), true);
  assert.equal(isTransient(new BrokerError('502 from the broker')), true);
  assert.equal(isTransient(new Error('Connection closed: 320 (CONNECTION-FORCED)')), true);
  // 3.10 answers a declare placed on a node that is booting with this 400.
  assert.equal(
    isTransient(
      new BrokerRequestError(400, 'PUT', '/queues/v/q', "Request to node test2@localhost failed with {'EXIT',{badarg,[{ets,match,[rabbit_registry]}]}}"),
    ),
    true,
  );
  // A passive declare of a durable queue whose home node is down or booting (it exists).
  assert.equal(
    isTransient(
      new Error(
        "Channel closed by server: 404 (NOT-FOUND) with message \"NOT_FOUND - home node 'n1@localhost' of durable queue 'q31' in vhost 'v' is down or inaccessible\"",
      ),
    ),
    true,
  );
  // …this one to a quorum queue's declare while the whole cluster stops (measured, issue 16)…
  assert.equal(isTransient(new BrokerRequestError(400, 'PUT', '/queues/v/q37', "Node 'resb-restart2@localhost' could not be contacted")), true);
  // …and this one for a quorum queue on a loaded node whose Ra cluster or vhost is not up yet.
  assert.equal(
    isTransient(
      new BrokerRequestError(
        400,
        'PUT',
        '/queues/v/qmig.tmp.q',
        "Cannot declare quorum queue 'qmig.tmp.q' in vhost 'v' on node 'n2' with leader on node 'n2': cluster_not_formed",
      ),
    ),
    true,
  );
  assert.equal(
    isTransient(
      new BrokerRequestError(
        400,
        'PUT',
        '/queues/v/q',
        "Cannot declare a queue 'queue 'q' in vhost 'v'' on node 'n2': {vhost_supervisor_not_running,<<\"v\">>}",
      ),
    ),
    true,
  );
  assert.equal(isTransient(new BrokerRequestError(400, 'PUT', '/queues/v/q', "inequivalent arg 'x-queue-type' for queue 'q'")), false);
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/queues/v/q', 'Object Not Found')), false);
  assert.equal(isTransient(new QueueFailure('expected 10 messages, found 9 (ECONNRESET in a queue name)')), false);
});

test('isTransient: the 404s a starting node answers for shovel listings and global-parameter writes are retried; other 404s are not', () => {
  // Measured on 3.10.8 during `rabbitmqctl start_app`: that node's management API answered 404 for a moment to these.
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/shovels/v%2Fx', 'Not Found')), true);
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/parameters/shovel/v', 'Not Found')), true);
  assert.equal(isTransient(new BrokerRequestError(404, 'PUT', '/global-parameters/qmig.queues.id.0', 'Not Found')), true);
  // A missing queue, a missing single shovel parameter or a refused global-parameter write stay what they are.
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/queues/v/q', 'Not Found')), false);
  assert.equal(isTransient(new BrokerRequestError(404, 'GET', '/parameters/shovel/v/qmig.shovel.q.to-quorum', 'Not Found')), false);
  assert.equal(isTransient(new BrokerRequestError(400, 'PUT', '/global-parameters/x', 'bad value')), false);
  assert.equal(isTransient(new BrokerRequestError(404, 'DELETE', '/global-parameters/x', 'Not Found')), false);
});
