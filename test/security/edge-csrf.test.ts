/**
 * Issue 14 item 3: a web page the operator visits must not be able to change anything through
 * the sidecar. A browser sends such a page's requests with `Origin`/`Sec-Fetch-Site`, can only
 * use simple content types without a CORS preflight, and attaches Basic credentials on its own
 * only after a `WWW-Authenticate` challenge — the sidecar refuses the first two and never sends
 * the challenge. Non-browser clients (curl -u … -X POST, the CLI) keep working. On the real cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { enc } from '../../src/broker/management-client.js';
import { admin } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';

const P = '/api/queue-migration';
/** Cancel of a transfer that does not exist: a request that gets processed answers 404. */
const path = `${P}/xfer/${'A'.repeat(22)}/cancel`;

test('changing qmig routes refuse a form or text/plain type and a body without a type; JSON and the bare curl POST pass', async (t) => {
  const s = await startTestSidecar(t);
  const refused: Array<[string, RequestInit]> = [
    ['empty body, form type', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['empty body, text/plain', { method: 'POST', headers: { 'content-type': 'text/plain' } }],
    ['form body', { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['multipart body', { method: 'POST', body: '--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
    ['JSON text without a type (a Blob body)', { method: 'POST', body: new Blob(['{}']) }],
  ];
  for (const [why, init] of refused) {
    const res = await s.api(path, init);
    const body = await res.json();
    assert.equal(res.status, 400, `${why}: ${JSON.stringify(body)}`);
    assertSchema('error-response', body);
    assert.equal(body.error, 'bad_request');
  }
  for (const [why, init] of [
    ['no body, no type (curl -u … -X POST)', { method: 'POST' }],
    ['JSON body', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }],
  ] as Array<[string, RequestInit]>) {
    const res = await s.api(path, init);
    assert.equal(res.status, 404, `${why} is processed (unknown transfer)`);
    await res.arrayBuffer();
  }
});

test('cross-site Origin or Sec-Fetch-Site → 403 on qmig routes and on the proxied management API; same origin passes', async (t) => {
  const s = await startTestSidecar(t);
  const own = new URL(s.url).host;
  const json = { 'content-type': 'application/json' };
  for (const headers of [
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: `http://${own}.evil.example` },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' }, // another port of the same host is "same-site"
  ] as Array<Record<string, string>>) {
    const res = await s.api(path, { method: 'POST', body: '{}', headers: { ...json, ...headers } });
    const body = await res.json();
    assert.equal(res.status, 403, `${JSON.stringify(headers)}: ${JSON.stringify(body)}`);
    assertSchema('error-response', body);
    assert.match(body.reason, /cross-site request refused/);
  }
  for (const headers of [{ origin: `http://${own}` }, { 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }] as Array<Record<string, string>>) {
    const res = await s.api(path, { method: 'POST', body: '{}', headers: { ...json, ...headers } });
    assert.equal(res.status, 404, JSON.stringify(headers));
    await res.arrayBuffer();
  }
  // Reads are not changed: a cross-site GET (whose answer the page cannot read) still works.
  const read = await s.api(`${P}/xfer`, { headers: { origin: 'https://evil.example' } });
  assert.equal(read.status, 200);
  await read.arrayBuffer();

  // The proxied management API: a cross-site page must not create a vhost with the operator's credentials.
  const evil = `qmig-csrf-${randomBytes(4).toString('hex')}`;
  t.after(() =>
    admin()
      .deleteIfExists(`/vhosts/${enc(evil)}`)
      .catch(() => undefined),
  );
  let res = await s.api(`/api/vhosts/${enc(evil)}`, { method: 'PUT', body: '{}', headers: { ...json, origin: 'https://evil.example' } });
  assert.equal(res.status, 403);
  await res.arrayBuffer();
  assert.equal(await admin().vhost(evil), null, 'the cross-site PUT created nothing');
  res = await s.api(`/api/vhosts/${enc(evil)}`, { method: 'PUT', body: '{}', headers: { ...json, origin: `http://${own}` } });
  assert.equal(res.status, 201, "the same request from the sidecar's own page works");
  await res.arrayBuffer();
});

test('401s carry no WWW-Authenticate challenge, from qmig routes nor from the proxied broker', async (t) => {
  const s = await startTestSidecar(t);
  for (const path of [`${P}/status`, '/api/overview']) {
    for (const auth of [null, { user: 'guest', password: `wrong-${randomBytes(2).toString('hex')}` }]) {
      const res = await s.api(path, { auth });
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), null, `${path}: a browser would remember the credentials it is asked for`);
      await res.arrayBuffer();
    }
  }
});
