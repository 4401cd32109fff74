import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redact } from './logging.js';

test('secrets and URL credentials are masked', () => {
  const out = redact({
    password: 'hunter2',
    nested: { Authorization: 'Basic Z3Vlc3Q6Z3Vlc3Q=', uri: 'amqp://app:s3cret@10.0.0.1:5672/%2F', ok: 'visible' },
    list: ['https://u:p@h/x'],
  }) as Record<string, any>;
  assert.equal(out.password, '***');
  assert.equal(out.nested.Authorization, '***');
  assert.equal(out.nested.uri, 'amqp://***@10.0.0.1:5672/%2F');
  assert.equal(out.nested.ok, 'visible');
  assert.deepEqual(out.list, ['https://***@h/x']);
  assert.ok(!JSON.stringify(out).includes('s3cret'));
});
