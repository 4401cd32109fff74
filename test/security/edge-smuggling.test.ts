/**
 * Issue 14 item 2 (and issue 19's proxy timeout): every request the sidecar proxies reaches the
 * management listener with exactly the framing it was accepted with, or is refused with a JSON
 * 400 before anything goes upstream. Requests are written as raw bytes to the sidecar; what the
 * upstream receives is observed byte for byte by a plain HTTP server whose sockets are recorded
 * (standing in for the broker), and the effect on the real broker is checked on the test cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { enc } from '../../src/broker/management-client.js';
import { admin, cluster } from '../support/cluster.js';
import { basicAuth, startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';

interface Upstream {
  url: string;
  /** Every byte the upstream received, all connections. */
  raw(): string;
  /** Requests the upstream parsed: method, url, headers, body. */
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
}

async function recordingUpstream(t: { after(fn: () => unknown): void }): Promise<Upstream> {
  let raw = '';
  const requests: Upstream['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      // The sidecar's own management client (axios: node name at start) is not what is tested.
      if (!/axios/i.test(req.headers['user-agent'] ?? '')) requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      res.setHeader('www-authenticate', 'Basic realm="RabbitMQ Management"');
      res.end('{"ok":true}');
    });
  });
  server.on('connection', (s: Socket) => s.on('data', (d) => (raw += d.toString('latin1'))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, raw: () => raw, requests };
}

/** Writes `bytes` to the sidecar and returns everything it answered until it closes or goes quiet. */
function rawExchange(url: string, bytes: string, quietMs = 400): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let out = '';
    let timer = setTimeout(() => finish(), quietMs * 5);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    socket.on('data', (d) => {
      out += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    });
    socket.on('end', finish);
    socket.on('error', (err) => (out ? finish() : reject(err)));
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const jsonBodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
const auth = () => `Authorization: ${basicAuth(cluster.user, cluster.password)}\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function chunked(body: string): string {
  return `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
}

test('a chunked body on GET or DELETE is refused with a JSON 400; nothing reaches the upstream', async (t) => {
  const up = await recordingUpstream(t);
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: up.url } });
  const smuggled = 'GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  for (const method of ['GET', 'DELETE']) {
    const answer = await rawExchange(
      s.url,
      `${method} /api/queues HTTP/1.1\r\nHost: sidecar\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n${chunked(smuggled)}`,
    );
    assert.equal(statusOf(answer), 400, answer);
    assert.equal(jsonBodyOf(answer).error, 'bad_request');
    assert.match(jsonBodyOf(answer).reason, /must not carry a chunked body/);
  }
  await sleep(200);
  assert.equal(up.requests.length, 0, 'no request reached the upstream');
  assert.doesNotMatch(up.raw(), /smuggled/);
});

test('a Connection header cannot strip Content-Length: the body stays framed and is one request upstream', async (t) => {
  const up = await recordingUpstream(t);
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: up.url } });
  const smuggled = 'GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const answer = await rawExchange(
    s.url,
    `DELETE /api/queues/x/y HTTP/1.1\r\nHost: sidecar\r\n${auth()}Connection: keep-alive, content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
  );
  assert.equal(statusOf(answer), 200, answer);
  await sleep(200);
  assert.deepEqual(
    up.requests.map((r) => `${r.method} ${r.url}`),
    ['DELETE /api/queues/x/y'],
    'exactly the one request upstream',
  );
  assert.equal(up.requests[0].headers['content-length'], String(smuggled.length));
  assert.equal(up.requests[0].body, smuggled, 'the body arrived as the body of that request');
});

test('chunked POST/PUT bodies are forwarded chunked, bodiless requests without a body; the challenge is not passed on', async (t) => {
  const up = await recordingUpstream(t);
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: up.url } });
  const answer = await rawExchange(
    s.url,
    `PUT /api/vhosts/a HTTP/1.1\r\nHost: sidecar\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked('{"x":1}')}`,
  );
  assert.equal(statusOf(answer), 200, answer);
  assert.doesNotMatch(answer, /www-authenticate/i, 'no Basic challenge that a browser would remember');
  const get = await rawExchange(s.url, `GET /api/overview HTTP/1.1\r\nHost: sidecar\r\n${auth()}\r\n`);
  assert.equal(statusOf(get), 200, get);
  await sleep(200);
  assert.deepEqual(
    up.requests.map((r) => `${r.method} ${r.url} ${r.headers['transfer-encoding'] ?? '-'} ${r.headers['content-length'] ?? '-'} ${r.body}`),
    ['PUT /api/vhosts/a chunked - {"x":1}', 'GET /api/overview - - '],
  );
  assert.match(up.raw(), /\r\n7\r\n\{"x":1\}\r\n0\r\n\r\n/, 'the body went upstream chunk-framed');
});

test('ambiguous or unsupported framing gets a JSON 400 and the connection closed: CL+TE, two lengths, TE gzip', async (t) => {
  const up = await recordingUpstream(t);
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: up.url } });
  const cases = [
    `POST /api/x HTTP/1.1\r\nHost: s\r\n${auth()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `POST /api/x HTTP/1.1\r\nHost: s\r\n${auth()}Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc`,
    `POST /api/x HTTP/1.1\r\nHost: s\r\n${auth()}Transfer-Encoding: gzip, chunked\r\n\r\n${chunked('abc')}`,
    `POST /api/x HTTP/1.1\r\nHost: s\r\n${auth()}Transfer-Encoding: identity\r\n\r\nabc`,
    `POST /api/queue-migration/start/%2F HTTP/1.1\r\nHost: s\r\n${auth()}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ];
  for (const raw of cases) {
    const answer = await rawExchange(s.url, raw);
    assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1, `one answer only: ${answer}`);
    assert.equal(statusOf(answer), 400, `${raw.split('\r\n')[0]}: ${answer}`);
    assert.equal(jsonBodyOf(answer).error, 'bad_request', answer);
  }
  await sleep(200);
  assert.equal(up.requests.length, 0);
});

test('real broker: a request smuggled in a chunked DELETE body never reaches RabbitMQ', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const evil = `qmig-smuggled-${randomBytes(4).toString('hex')}`;
  t.after(() =>
    admin()
      .deleteIfExists(`/vhosts/${enc(evil)}`)
      .catch(() => undefined),
  );
  const smuggled = `PUT /api/vhosts/${evil} HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  const answer = await rawExchange(
    s.url,
    `DELETE /api/queues/${enc(vhost)}/nothing HTTP/1.1\r\nHost: sidecar\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n${chunked(smuggled)}`,
  );
  assert.equal(statusOf(answer), 400, answer);
  // A second, ordinary request on the sidecar's kept-alive upstream connections.
  const res = await s.api('/api/overview');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await sleep(500);
  assert.equal(await admin().vhost(evil), null, 'the smuggled PUT did not create a vhost');
});

test('a hung management listener: the proxy answers 504 JSON after QMIG_PROXY_TIMEOUT_MS (issue 19)', async (t) => {
  const held: Socket[] = [];
  const hung = createTcpServer((sock) => held.push(sock)); // accepts, reads, never answers
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        held.forEach((h) => h.destroy());
        hung.close(() => r());
      }),
  );
  const s = await startTestSidecar(t, {
    env: { QMIG_MANAGEMENT_URL: `http://127.0.0.1:${(hung.address() as AddressInfo).port}`, QMIG_PROXY_TIMEOUT_MS: '300' },
    brokerWaitMs: 0,
  });
  const res = await s.api('/api/overview', { signal: AbortSignal.timeout(20_000) });
  assert.equal(res.status, 504);
  const body = await res.json();
  assert.equal(body.error, 'gateway_timeout');
  assert.match(body.reason, /did not answer within 300 ms/);
});
