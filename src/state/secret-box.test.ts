import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretBox } from './secret-box.js';

test('a sealed secret opens with the same key and place, and its text is not in the box', () => {
  const box = new SecretBox('state-secret-one');
  const sealed = box.seal('Tgt-Pw:s3cret', 'qmig.bluegreen.a');
  assert.ok(!JSON.stringify(sealed).includes('s3cret'));
  assert.deepEqual(box.open(sealed, 'qmig.bluegreen.a'), { plaintext: 'Tgt-Pw:s3cret', stale: false });
});

test('another place, another key, an altered box or a non-box does not open', () => {
  const box = new SecretBox('state-secret-one');
  const sealed = box.seal('pw-123456', 'qmig.bluegreen.a');
  assert.equal(box.open(sealed, 'qmig.bluegreen.b'), null);
  assert.equal(new SecretBox('state-secret-two').open(sealed, 'qmig.bluegreen.a'), null);
  const data = Buffer.from(sealed.data, 'base64');
  data[0] ^= 1;
  assert.equal(box.open({ ...sealed, data: data.toString('base64') }, 'qmig.bluegreen.a'), null);
  assert.equal(box.open('pw-123456', 'qmig.bluegreen.a'), null);
  assert.equal(box.open(null, 'qmig.bluegreen.a'), null);
});

test('rotation: the previous secret opens an old box, marked stale', () => {
  const old = new SecretBox('state-secret-old').seal('pw-rotated', 'p');
  const rotated = new SecretBox('state-secret-new', 'state-secret-old');
  assert.deepEqual(rotated.open(old, 'p'), { plaintext: 'pw-rotated', stale: true });
  assert.deepEqual(rotated.open(rotated.seal('pw-rotated', 'p'), 'p'), { plaintext: 'pw-rotated', stale: false });
});
