import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactText, redactUrlCredentials, registerSecret } from './redaction.js';
import { redact } from './logging.js';

/** Passwords as an attacker or a password manager would choose them. */
const HOSTILE = ['p/ss', 'p@ss', 'a:b:c', '100%', 'x#y', '/@:%#', '123/abc', 'pa@ss/w:rd%41#frag?q=1', '@@@', 'ends-with-@'];

test('URL credentials are removed by parsing, for passwords with / @ : % # (raw or percent-encoded)', () => {
  for (const pw of HOSTILE) {
    for (const form of [pw, encodeURIComponent(pw)]) {
      for (const scheme of ['amqp', 'amqps', 'http', 'https']) {
        const text = `connect to ${scheme}://app-user:${form}@10.0.0.1:5672/%2Fvh failed: refused`;
        const out = redactUrlCredentials(text);
        assert.equal(out, `connect to ${scheme}://***@10.0.0.1:5672/%2Fvh failed: refused`, `${scheme} ${form}`);
        assert.ok(!out.includes(form) && !out.includes('app-user'), out);
      }
    }
  }
  assert.equal(redactUrlCredentials('amqp://10.0.0.1:5672/%2F and http://h/p'), 'amqp://10.0.0.1:5672/%2F and http://h/p', 'nothing to remove');
  assert.equal(redactUrlCredentials('"amqp://u:p/w@h:1/x","next"'), '"amqp://***@h:1/x","next"', 'ends at a quote');
  assert.equal(redactUrlCredentials('two: amqp://a:1/2@h1 http://b:#3@h2/x'), 'two: amqp://***@h1 http://***@h2/x');
  assert.equal(redactUrlCredentials('://odd and no scheme'), '://odd and no scheme');
});

test('registered secrets are removed wherever they appear; short ones are not registered', () => {
  const secret = 'Zq/9@x:%#-' + Date.now();
  registerSecret(secret);
  registerSecret('guest');
  assert.equal(redactText(`the broker said: bad password ${secret}!`), 'the broker said: bad password ***!');
  assert.equal(redactText(`in a query: ?p=${encodeURIComponent(secret)}&x=1`), 'in a query: ?p=***&x=1');
  assert.equal(redactText('user guest logged in'), 'user guest logged in');
});

test('log records: secret keys masked, strings cleaned, hostile passwords never in the JSON', () => {
  for (const pw of HOSTILE) {
    const out = JSON.stringify(redact({ message: `dest amqp://u:${pw}@host:5672/v`, nested: { uri: `amqps://u:${pw}@h/x`, password: pw } }));
    assert.ok(!out.includes(`u:${pw}`), out);
    assert.match(out, /amqp:\/\/\*\*\*@host:5672\/v/);
  }
});
