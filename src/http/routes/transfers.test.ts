/**
 * POST /xfer bodies: the schema that documents them (schemas/xfer-request.json) and the parser
 * that judges them (src/transfer/transfer-request.ts) agree.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestError } from '../../errors.js';
import { parseTransferRequest } from '../../transfer/transfer-request.js';
import { schemaValidator } from '../schema-registry.js';

const base = { target: 'http://10.0.0.1:15672', target_user: 'admin', target_password: 's3cret', reason: 'blue-green cut-over' };

describe('POST /xfer bodies', () => {
  it('agrees with schemas/xfer-request.json on valid and invalid bodies', () => {
    const validate = schemaValidator('xfer-request');
    for (const good of [
      { ...base, everything: true },
      { ...base, queue_names: ['q'] },
      { ...base, pattern: 'x', vhost: 'v', remove_source_queue: false },
    ]) {
      assert.ok(validate(good), JSON.stringify(validate.errors));
      assert.doesNotThrow(() => parseTransferRequest(good));
    }
    for (const bad of [
      { ...base },
      { ...base, everything: true, pattern: 'x' },
      { ...base, everything: false },
      { ...base, everything: true, extra: 1 },
      { ...base, reason: '', everything: true },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
      assert.throws(() => parseTransferRequest(bad), BadRequestError);
    }
  });
});
