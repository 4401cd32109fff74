import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestFraming } from './request-framing.js';

test('framing: none, length and chunked as accepted; ambiguous or unforwardable framing refused', () => {
  assert.deepEqual(requestFraming('GET', {}), { kind: 'none' });
  assert.deepEqual(requestFraming('PUT', { 'content-length': '12' }), { kind: 'length', length: 12 });
  assert.deepEqual(requestFraming('DELETE', { 'content-length': '3' }), { kind: 'length', length: 3 });
  assert.deepEqual(requestFraming('POST', { 'transfer-encoding': 'Chunked' }), { kind: 'chunked' });
  assert.throws(() => requestFraming('POST', { 'transfer-encoding': 'chunked', 'content-length': '3' }), /ambiguous/);
  assert.throws(() => requestFraming('POST', { 'transfer-encoding': 'gzip, chunked' }), /only "chunked"/);
  for (const m of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
    assert.throws(() => requestFraming(m, { 'transfer-encoding': 'chunked' }), /must not carry a chunked body/, m);
  }
  assert.throws(() => requestFraming('PUT', { 'content-length': '1e3' }), /malformed/);
});
