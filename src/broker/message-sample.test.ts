import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SAMPLE_MESSAGES, parseExpiration, readSample } from './message-sample.js';

test('expiration: only a plain decimal integer of at most 10 digits is a TTL', () => {
  assert.equal(parseExpiration('60000'), 60000);
  assert.equal(parseExpiration('0'), 0);
  for (const bad of ['', '-1', '1e3', ' 5', '5.0', '12345678901', 5000, null, undefined, {}]) assert.equal(parseExpiration(bad), null, String(bad));
});

test("a sample answer is read defensively: anything but the messages' expirations is ignored, and at most the limit", () => {
  assert.deepEqual(readSample('not a list'), { sampled: 0, expirations: [], unreadable: 0 });
  const answer = [
    { properties: { expiration: '1000' } },
    { properties: { expiration: 'soon' } },
    { properties: {} },
    { properties: 'x' },
    null,
    { properties: { expiration: '250', headers: { a: 1 } } },
  ];
  assert.deepEqual(readSample(answer), { sampled: 6, expirations: [1000, 250], unreadable: 1 });
  const many = Array.from({ length: MAX_SAMPLE_MESSAGES + 50 }, () => ({ properties: { expiration: '1' } }));
  assert.equal(readSample(many).sampled, MAX_SAMPLE_MESSAGES);
});
