/**
 * The sidecar stands in for the management listener: everything outside /api/queue-migration is
 * proxied (the UI, /api/*) with the caller's own credentials; /healthz reports the broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';

test('the management UI login page and its assets come through the sidecar', async (t) => {
  const s = await startTestSidecar(t);
  let res = await s.api('/', { auth: null });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const html = await res.text();
  assert.match(html, /<title>RabbitMQ Management<\/title>/);
  const script = /src="(js\/[^"]+)"/.exec(html);
  assert.ok(script, 'the page references its scripts');
  res = await s.api('/' + script[1], { auth: null });
  assert.equal(res.status, 200);
  assert.ok((await res.arrayBuffer()).byteLength > 100);
});

test('/api/* is proxied with the caller credentials, query string and body; bad auth gets the broker 401', async (t) => {
  const s = await startTestSidecar(t, { node: 1 });
  let res = await s.api('/api/overview');
  assert.equal(res.status, 200);
  const overview = await res.json();
  assert.equal(overview.node, cluster.nodeNames[1], 'answered by the node the sidecar sits beside');

  const monitoring = await testUser(t, ['monitoring']);
  res = await s.api('/api/whoami', { auth: monitoring });
  assert.deepEqual(await res.json(), { name: monitoring.user, tags: ['monitoring'] });

  res = await s.api('/api/overview', { auth: { user: 'guest', password: 'nope' } });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, 'not_authorized');
  res = await s.api('/api/overview', { auth: null });
  assert.equal(res.status, 401);
  await res.arrayBuffer();

  // a write with a body and a query string
  const vhost = await testVhost(t);
  const queue = `q-${randomBytes(3).toString('hex')}`;
  res = await s.api(`/api/queues/${enc(vhost)}/${enc(queue)}`, {
    method: 'PUT',
    body: JSON.stringify({ durable: true, arguments: { 'x-max-length': 7 } }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 201);
  await res.arrayBuffer();
  assert.equal((await admin().queue(vhost, queue))?.arguments['x-max-length'], 7);
  res = await s.api(`/api/queues/${enc(vhost)}?columns=name,durable`);
  const listed = await res.json();
  assert.deepEqual(listed, [{ name: queue, durable: true }]);
});

test('/healthz: 200 with the node name when the broker is reachable', async (t) => {
  const s = await startTestSidecar(t, { node: 2 });
  const res = await fetch(s.url + '/healthz');
  const body = await res.json();
  assert.equal(res.status, 200);
  assertSchema('healthz-response', body);
  assert.deepEqual(body, { status: 'ok', broker: 'reachable', node: cluster.nodeNames[2] });
});

test('/healthz 503 and proxy 502 when the management listener is unreachable', async (t) => {
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: 'http://127.0.0.1:1' }, brokerWaitMs: 0 });
  assert.equal(s.ctx.nodeName, 'unknown');
  let res = await fetch(s.url + '/healthz');
  let body = await res.json();
  assert.equal(res.status, 503);
  assertSchema('healthz-response', body);
  assert.equal(body.broker, 'unreachable');
  assert.match(body.reason, /unreachable/);

  res = await s.api('/api/overview');
  body = await res.json();
  assert.equal(res.status, 502);
  assertSchema('error-response', body);
  assert.match(body.reason, /unreachable/);
});
