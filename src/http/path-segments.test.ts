import assert from 'node:assert/strict';
import { test } from 'node:test';
import { badSegment } from './path-segments.js';

test('dot and empty segments are refused, raw or percent-encoded; ordinary paths pass', () => {
  for (const p of ['/check/.', '/check/..', '/check/%2E', '/check/%2e%2E', '/start/%2E%2E', '/status//x', '/check/', '/check/%ZZ']) {
    assert.notEqual(badSegment(p), null, p);
  }
  for (const p of ['/', '/status', '/check/%2F', '/check/a.b', '/start/...', '/status/abc', '/xfer/x/cancel']) assert.equal(badSegment(p), null, p);
});
