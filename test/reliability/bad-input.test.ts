/**
 * Bad input, generated: at least 1,000 requests against every route of /api/queue-migration
 * (xfer and blue-green routes included) — malformed JSON, wrong types, huge bodies, odd encodings in vhost and id
 * (invalid percent-encoding, overlong, NUL, unicode, `..`), missing and wrong credentials, wrong
 * tags, unknown routes and methods. The sidecar must answer every one without a 5xx, every error
 * body must match the error schema (and carry no stack trace), every 405 must say Allow, and every
 * success must match its route's schema.
 * Generated from a seed (QMIG_BAD_INPUT_SEED, printed) so that a failure reproduces. Nothing here
 * can start a real migration or transfer: the only vhost that exists among the generated targets
 * is this test's own, which has no queue; `/start` without a vhost (`/`) only gets invalid bodies.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { newMigrationId, displayId } from '../../src/state/migration-id.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { timestamp, type MigrationRecord, type QueueRecord } from '../../src/state/records.js';
import { admin, cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import { startOptions } from '../integration/migration-support.js';
import { reliabilityEnv } from './reliability-support.js';
import { testSeal } from '../support/state-secret.js';

// --- deterministic randomness -----------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- what is sent -------------------------------------------------------------------------------

interface Case {
  why: string;
  method: string;
  /** Raw path after /api/queue-migration, already percent-encoded (or deliberately not). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Schema of a 2xx answer (null: a 2xx is not expected / has no body). */
  okSchema?: string | null;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function send(base: URL, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...c.headers };
    if (c.body !== undefined) headers['content-length'] = String(c.body.length);
    const req = request({ host: base.hostname, port: base.port, method: c.method, path: `/api/queue-migration${c.path}`, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    if (c.body !== undefined) req.write(c.body);
    req.end();
  });
}

// --- the generator ------------------------------------------------------------------------------

type BodyKind = 'start' | 'check' | 'status-update' | 'xfer' | 'none';

interface RouteDef {
  method: 'GET' | 'POST';
  path: string;
  body: BodyKind;
  okSchema: string | null;
  changing: boolean;
}

const ROUTES: RouteDef[] = [
  { method: 'POST', path: '/check/{vhost}', body: 'check', okSchema: 'check-response', changing: false },
  { method: 'POST', path: '/start', body: 'start', okSchema: 'start-response', changing: true },
  { method: 'POST', path: '/start/{vhost}', body: 'start', okSchema: 'start-response', changing: true },
  { method: 'GET', path: '/status', body: 'none', okSchema: 'status-list-response', changing: false },
  { method: 'GET', path: '/status/{id}', body: 'none', okSchema: 'status-detail-response', changing: false },
  { method: 'POST', path: '/status/{id}', body: 'status-update', okSchema: 'status-update-response', changing: true },
  { method: 'POST', path: '/interrupt/{id}', body: 'none', okSchema: 'interrupt-response', changing: true },
  { method: 'GET', path: '/rollback-pending', body: 'none', okSchema: 'rollback-pending-response', changing: false },
  { method: 'POST', path: '/xfer', body: 'xfer', okSchema: 'xfer-accepted', changing: true },
  { method: 'GET', path: '/xfer', body: 'none', okSchema: 'xfer-list', changing: false },
  { method: 'GET', path: '/xfer/{id}', body: 'none', okSchema: 'xfer-record', changing: false },
  { method: 'POST', path: '/xfer/{id}/cancel', body: 'none', okSchema: 'xfer-cancel-response', changing: true },
  // Blue-green: any body these requests carry lacks the target (400 for an administrator, 403 before it for anyone else).
  { method: 'POST', path: '/bluegreen/plan/{vhost}', body: 'none', okSchema: 'bluegreen-plan-response', changing: true },
  { method: 'POST', path: '/bluegreen/definitions/{vhost}', body: 'none', okSchema: 'bluegreen-definitions-response', changing: true },
  { method: 'POST', path: '/bluegreen/start/{vhost}', body: 'none', okSchema: 'bluegreen-start-response', changing: true },
  // Drains (administrator only): ids here are unknown or not a drain's (404); `{}` is the whole body of cut-over and cancel.
  { method: 'GET', path: '/bluegreen/status', body: 'none', okSchema: 'bluegreen-list-response', changing: false },
  { method: 'GET', path: '/bluegreen/status/{id}', body: 'none', okSchema: 'bluegreen-status-response', changing: false },
  { method: 'POST', path: '/bluegreen/cutover/{id}', body: 'none', okSchema: 'bluegreen-cutover-response', changing: true },
  { method: 'POST', path: '/bluegreen/cancel/{id}', body: 'none', okSchema: 'bluegreen-cancel-response', changing: true },
];

/** Path segments that are hard to decode or to pass on (already in wire form). */
const ODD_SEGMENTS = [
  '%ZZ',
  '%',
  '%2',
  '%G0',
  '%C3%28',
  '%00',
  'a%00b',
  '%E6%97%A5%E6%9C%AC%26q',
  '%F0%9F%92%A9',
  '%C3%BCber%26co',
  'a'.repeat(4000),
  '%41'.repeat(1500),
  '..',
  '%2e%2e',
  '.',
  '%2F..%2F..%2Fetc%2Fpasswd',
  '..%2F..%2F',
  '%252F',
  '+',
  '%20',
  '%20%20',
  '%0D%0Aset-cookie%3A%20x',
  '%FF%FE',
  '%ED%A0%80',
  '%C0%AF',
  '%E2%80%AE',
  '%EF%BB%BF',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  '%5B%5D',
  '%7B%7D',
  "'%3B--",
  '%2F%2F',
  '~',
  '*',
  'all%00',
  'ALL',
  '%2Fall',
  'x'.repeat(255),
  'Zm9v',
  'ZzJnQ2JnWUE4VTJOS0pzQmR4aHlZV0pwYVhRdE1VQlRSVUV0TTB4SE5VaFdTbFZYU2tz',
  'g2gCbQAAAA5yYWJiaXRAcm1xMGIAAAPoAAAAAAA=',
  'g2gCbQAAAA5yYWJiaXRAcm1xMGIAAAPoAAAAAAA%3D',
  '%3D%3D%3D',
  '-_-_',
  'a/b',
  'a%2Fb',
];

function randomUnicode(rnd: () => number): string {
  const pools = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x370, 0x3ff],
    [0x4e00, 0x4fff],
    [0x1f300, 0x1f64f],
    [0x0, 0x1f],
  ];
  let s = '';
  const n = 1 + Math.floor(rnd() * 12);
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pools[Math.floor(rnd() * pools.length)];
    s += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
  }
  return s;
}

function oddSegment(rnd: () => number): string {
  const r = rnd();
  if (r < 0.6) return ODD_SEGMENTS[Math.floor(rnd() * ODD_SEGMENTS.length)];
  if (r < 0.85) return encodeURIComponent(randomUnicode(rnd));
  // Random bytes, percent-encoded one by one (mostly invalid UTF-8).
  return Array.from(
    { length: 1 + Math.floor(rnd() * 20) },
    () =>
      '%' +
      Math.floor(rnd() * 256)
        .toString(16)
        .padStart(2, '0')
        .toUpperCase(),
  ).join('');
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

const WRONG_VALUES: unknown[] = [
  'yes',
  'true',
  1,
  0,
  -1,
  1.5,
  101,
  -0.0001,
  1e308,
  null,
  [],
  {},
  [true],
  { a: 1 },
  '',
  ' ',
  'all ',
  'ALL',
  '\u0000',
  'x'.repeat(5000),
  'random',
];

function validStart(rnd: () => number): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (rnd() < 0.5) b.skip_unsuitable_queues = rnd() < 0.5;
  if (rnd() < 0.4) b.tolerance = Math.round(rnd() * 1000) / 10;
  if (rnd() < 0.4) b.batch_size = rnd() < 0.3 ? 'all' : Math.floor(rnd() * 20);
  if (rnd() < 0.3) b.batch_order = rnd() < 0.5 ? 'smallest_first' : 'largest_first';
  if (rnd() < 0.3) b.queue_names = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => randomUnicode(rnd) || 'q');
  if (rnd() < 0.2) b.allow_message_ttl = rnd() < 0.5;
  if (rnd() < 0.1) b.vhost = 'ignored';
  return b;
}

function validXfer(rnd: () => number, vhost: string): Record<string, unknown> {
  return {
    target: pick(rnd, ['http://127.0.0.1:1', 'https://127.0.0.1:9', 'http://[::1]:2']),
    target_user: 'u',
    target_password: 'p',
    reason: 'bad-input suite',
    vhost,
    ...(rnd() < 0.5 ? { queue_names: ['q1'] } : rnd() < 0.5 ? { pattern: '^q' } : { everything: true }),
  };
}

/** A body that must be refused with 400/413 (or 415-like 400): never valid for any route. */
function badBody(rnd: () => number, kind: BodyKind): { why: string; body: Buffer; contentType?: string } {
  const fields: Record<BodyKind, string[]> = {
    start: ['skip_unsuitable_queues', 'tolerance', 'batch_size', 'batch_order', 'queue_names', 'allow_message_ttl', 'set_default_queue_type'],
    check: ['skip_unsuitable_queues', 'allow_message_ttl'],
    'status-update': ['status'],
    xfer: ['target', 'target_user', 'target_password', 'reason', 'vhost', 'queue_names', 'pattern', 'everything', 'remove_source_queue'],
    none: ['anything'],
  };
  const json = (v: unknown, why: string) => ({ why, body: Buffer.from(JSON.stringify(v)), contentType: 'application/json' });
  const r = Math.floor(rnd() * 16);
  switch (r) {
    case 0:
      return {
        why: 'truncated JSON',
        body: Buffer.from(pick(rnd, ['{', '{"a":', '{"tolerance": 1', '[', '{"x": "unterminated'])),
        contentType: 'application/json',
      };
    case 1:
      return {
        why: 'not JSON at all',
        body: Buffer.from(pick(rnd, ['hello', 'tolerance=5&batch_size=1', '<xml/>', '{a:1}', "{'a':1}", 'NaN', '{"a":1,}'])),
        contentType: 'application/json',
      };
    case 2:
      return json(pick(rnd, [[1, 2], 'string', 42, true, [{}]]), 'JSON that is not an object');
    case 3: {
      const f = pick(rnd, fields[kind]);
      const wrong = pick(rnd, WRONG_VALUES);
      const b = kind === 'xfer' ? { ...validXfer(rnd, 'nope'), [f]: wrong } : kind === 'status-update' ? { status: wrong } : { [f]: wrong };
      // A wrong value that happens to be valid for the field is skipped by making it unknown too.
      return json({ ...b, [`unknown_${Math.floor(rnd() * 1000)}`]: 1 }, `wrong type for ${f} (+ unknown field)`);
    }
    case 4:
      return json({ [randomUnicode(rnd)]: 1, another_unknown: true }, 'unknown fields');
    case 5:
      return { why: 'deeply nested JSON', body: Buffer.from('['.repeat(20000) + ']'.repeat(20000)), contentType: 'application/json' };
    case 6:
      return { why: 'deeply nested objects', body: Buffer.from('{"a":'.repeat(5000) + '1' + '}'.repeat(5000)), contentType: 'application/json' };
    case 7:
      return {
        why: '__proto__ / constructor keys',
        body: Buffer.from(
          pick(rnd, ['{"__proto__":{"skip_unsuitable_queues":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"__proto__":null,"tolerance":"x"}']),
        ),
        contentType: 'application/json',
      };
    case 8:
      return {
        why: 'valid JSON, wrong content type',
        body: Buffer.from('{"skip_unsuitable_queues":true,"zz":1}'),
        contentType: pick(rnd, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'image/png']),
      };
    case 9:
      return {
        why: 'invalid UTF-8 inside JSON',
        body: Buffer.concat([Buffer.from('{"queue_names":["'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"],"x":1}')]),
        contentType: 'application/json',
      };
    case 10:
      return { why: 'UTF-16 body', body: Buffer.from('\ufeff{"tolerance":"no"}', 'utf16le'), contentType: 'application/json; charset=utf-16' };
    case 11:
      return {
        why: 'odd charset',
        body: Buffer.from('{"x":1}'),
        contentType: pick(rnd, ['application/json; charset=latin1', 'application/json; charset=klingon', 'application/json; charset=']),
      };
    case 12:
      return json({ tolerance: 1e400, batch_size: -5, x: 1 }, 'out-of-range numbers');
    case 13:
      return {
        why: 'duplicate keys and NUL',
        body: Buffer.from('{"batch_order":"smallest_first","batch_order":"sideways","\\u0000":1}'),
        contentType: 'application/json',
      };
    case 14:
      return json({ queue_names: Array.from({ length: 10001 }, (_, i) => `q${i}`) }, 'too many queue names');
    default:
      return json(
        kind === 'xfer'
          ? { ...validXfer(rnd, 'nope'), target: pick(rnd, ['ftp://x', 'http://user:pw@127.0.0.1:1', 'not a url', '']) }
          : { status: 'completed', tolerance: -1 },
        'invalid values',
      );
  }
}

interface Env {
  vhost: string;
  /** An existing finished migration (a completed record written by the test). */
  recordId: string;
  users: Record<'admin' | 'monitoring' | 'management' | 'policymaker' | 'notags', { user: string; password: string }>;
}

function fill(route: RouteDef, vhost: string, id: string): string {
  return route.path.replace('{vhost}', vhost).replace('{id}', id);
}

const adminAuth = () => basicAuth(cluster.user, cluster.password);

function generate(seed: number, env: Env): Case[] {
  const rnd = mulberry32(seed);
  const cases: Case[] = [];
  const missingId = encodeURIComponent(newMigrationId('rabbit@nowhere', new Date(2020, 0, 1)));
  const vhostNames = (): string => (rnd() < 0.15 ? encodeURIComponent(`qmig-bad-${Math.floor(rnd() * 1e6)}`) : oddSegment(rnd));
  const ids = (): string => pick(rnd, [missingId, oddSegment(rnd), oddSegment(rnd), 'x'.repeat(Math.floor(rnd() * 600))]);
  const json = { 'content-type': 'application/json' };

  // 1. Every route with odd path parameters (admin credentials; bodies empty or bad).
  for (let i = 0; i < 420; i++) {
    const route = ROUTES[i % ROUTES.length];
    if (!route.path.includes('{')) continue;
    const seg = route.path.includes('{vhost}') ? vhostNames() : ids();
    const c: Case = {
      why: `odd parameter ${seg.slice(0, 60)}`,
      method: route.method,
      path: fill(route, seg, seg),
      headers: { authorization: adminAuth() },
      okSchema: route.okSchema,
    };
    if (route.method === 'POST' && route.body !== 'none' && rnd() < 0.5) {
      const b =
        route.body === 'status-update'
          ? { status: 'rollback_completed' }
          : route.body === 'check'
            ? { skip_unsuitable_queues: true }
            : route.body === 'start'
              ? validStart(rnd)
              : validXfer(rnd, 'nope');
      c.body = Buffer.from(JSON.stringify(b));
      c.headers = { ...c.headers, ...json };
      c.why += ' with a valid body';
    }
    cases.push(c);
  }

  // 2. Bad bodies on every POST route (targets: a missing vhost, this test's empty vhost, `/` for bare /start).
  const posts = ROUTES.filter((r) => r.method === 'POST');
  for (let i = 0; i < 330; i++) {
    const route = posts[i % posts.length];
    const bad = badBody(rnd, route.body);
    const vh = rnd() < 0.5 ? encodeURIComponent(env.vhost) : encodeURIComponent(`qmig-bad-${i}`);
    const id = rnd() < 0.5 ? encodeURIComponent(env.recordId) : missingId;
    cases.push({
      why: `${bad.why} on ${route.path}`,
      method: 'POST',
      path: fill(route, vh, id),
      headers: { authorization: adminAuth(), ...(bad.contentType !== undefined ? { 'content-type': bad.contentType } : {}) },
      body: bad.body,
      okSchema: null,
    });
  }

  // 3. Huge bodies (limit 1 MiB → 413) on the routes that read a body (the others never read it).
  for (const route of posts.filter((r) => r.body !== 'none')) {
    for (const size of [1_048_577, 3_000_000]) {
      cases.push({
        why: `huge body ${size} B on ${route.path}`,
        method: 'POST',
        path: fill(route, encodeURIComponent(env.vhost), missingId),
        headers: { authorization: adminAuth(), ...json },
        body: Buffer.alloc(size, 0x20),
        okSchema: null,
      });
    }
  }

  // 4. Valid bodies where they cannot start anything: this test's vhost has no queue, ids are finished or unknown.
  for (let i = 0; i < 40; i++) {
    const route = pick(
      rnd,
      ROUTES.filter((r) => r.body !== 'none' || r.method === 'GET'),
    );
    let body: unknown;
    if (route.body === 'start') body = validStart(rnd);
    else if (route.body === 'check') body = rnd() < 0.5 ? {} : { skip_unsuitable_queues: rnd() < 0.5, allow_message_ttl: rnd() < 0.5 };
    else if (route.body === 'status-update') body = { status: 'rollback_completed' };
    else if (route.body === 'xfer') body = validXfer(rnd, rnd() < 0.5 ? env.vhost : `qmig-bad-${i}`);
    const path =
      route.path === '/start' ? '/start/' + encodeURIComponent(env.vhost) : fill(route, encodeURIComponent(env.vhost), encodeURIComponent(env.recordId));
    cases.push({
      why: `plausible request on ${route.path}`,
      method: route.method,
      path,
      headers: { authorization: adminAuth(), ...(body === undefined ? {} : json) },
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      okSchema: route.okSchema,
    });
  }

  // 5. Credentials: none, wrong scheme, malformed, wrong password, unknown user, odd user names.
  const authHeaders = (): { why: string; value?: string } => {
    const r = Math.floor(rnd() * 10);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    switch (r) {
      case 0:
        return { why: 'no credentials' };
      case 1:
        return { why: 'Bearer token', value: 'Bearer abc.def.ghi' };
      case 2:
        return { why: 'malformed base64', value: 'Basic !!!not-base64***' };
      case 3:
        return { why: 'no colon', value: `Basic ${b64('guestguest')}` };
      case 4:
        return { why: 'wrong password', value: basicAuth(cluster.user, `wrong-${Math.floor(rnd() * 1e6)}`) };
      case 5:
        return { why: 'unknown user', value: basicAuth(`nobody-${Math.floor(rnd() * 1e6)}`, 'x') };
      case 6:
        return { why: 'unicode user', value: `Basic ${b64(`${randomUnicode(rnd)}:${randomUnicode(rnd)}`)}` };
      case 7:
        return { why: 'empty user and password', value: `Basic ${b64(':')}` };
      case 8:
        return { why: 'long credentials', value: basicAuth('u'.repeat(3000), 'p'.repeat(3000)) };
      default:
        return { why: 'Basic without value', value: 'Basic ' };
    }
  };
  for (let i = 0; i < 150; i++) {
    const route = ROUTES[i % ROUTES.length];
    const a = authHeaders();
    const c: Case = {
      why: `${a.why} on ${route.path}`,
      method: route.method,
      path: fill(route, encodeURIComponent(env.vhost), encodeURIComponent(env.recordId)),
      headers: a.value ? { authorization: a.value } : {},
      okSchema: null,
    };
    if (route.method === 'POST') {
      c.body = Buffer.from('{}');
      c.headers['content-type'] = 'application/json';
    }
    cases.push(c);
  }

  // 6. Wrong tags: read routes without monitoring, changing routes without administrator/permission.
  for (let i = 0; i < 120; i++) {
    const route = ROUTES[i % ROUTES.length];
    const who = pick(rnd, ['monitoring', 'management', 'policymaker', 'notags'] as const);
    const u = env.users[who];
    const c: Case = {
      why: `user tagged ${who} on ${route.method} ${route.path}`,
      method: route.method,
      path: fill(route, encodeURIComponent(env.vhost), encodeURIComponent(env.recordId)),
      headers: { authorization: basicAuth(u.user, u.password) },
      okSchema: route.okSchema,
    };
    if (route.method === 'POST') {
      const body = route.body === 'status-update' ? { status: 'rollback_completed' } : route.body === 'xfer' ? validXfer(rnd, env.vhost) : {};
      c.body = Buffer.from(JSON.stringify(body));
      c.headers['content-type'] = 'application/json';
    }
    // A monitoring user may read; everybody else gets 401/403 (checked below).
    cases.push(c);
  }

  // 7. Unknown routes and methods.
  const methods = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'HEAD', 'GET', 'POST'];
  const unknownPaths = [
    '',
    '/',
    '/unknown',
    '/status/a/b',
    '/STATUS',
    '/Start',
    '//status',
    '/status//',
    '/check',
    '/check/',
    '/interrupt',
    '/interrupt/',
    '/xfer/a/b/c',
    '/xfer/x/cancel/now',
    '/rollback-pending/x',
    '/start/a/b',
    '/%2e%2e/%2e%2e/api/overview',
    '/../../api/overview',
    '/status;x=1',
    '/status/%',
    '/metrics',
    '/api',
  ];
  for (let i = 0; i < 140; i++) {
    const method = methods[i % methods.length];
    const known = rnd() < 0.5;
    const route = pick(rnd, ROUTES);
    const path = known ? fill(route, encodeURIComponent(env.vhost), encodeURIComponent(env.recordId)) : pick(rnd, unknownPaths);
    const allowed = ROUTES.filter((r) => r.path === route.path).flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]));
    if (known && allowed.includes(method)) continue;
    cases.push({ why: `${method} ${known ? 'known route' : 'unknown path'} ${path}`, method, path, headers: { authorization: adminAuth() }, okSchema: null });
  }
  return cases;
}

// --- judging the answers ------------------------------------------------------------------------

function judge(c: Case, a: Answer, env: Env): string | null {
  if (a.status >= 500) return `${a.status} ${a.body.toString('utf8').slice(0, 300)}`;
  const text = a.body.toString('utf8');
  if (c.method === 'HEAD') return null;
  if (a.status === 405 && !a.headers.allow) return '405 without Allow';
  if (a.status >= 200 && a.status < 300) {
    if (!c.okSchema) return `unexpected ${a.status}: ${text.slice(0, 300)}`;
    try {
      assertSchema(c.okSchema, JSON.parse(text));
    } catch (err) {
      return `${a.status} does not match ${c.okSchema}: ${(err as Error).message.slice(0, 300)}`;
    }
    return null;
  }
  if (a.status < 400) return `unexpected status ${a.status}`;
  if (!/^application\/json/.test(String(a.headers['content-type']))) return `${a.status} with content-type ${a.headers['content-type']}: ${text.slice(0, 200)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${a.status} body is not JSON: ${text.slice(0, 200)}`;
  }
  try {
    assertSchema('error-response', body);
  } catch (err) {
    return (err as Error).message.slice(0, 300);
  }
  if (/\n\s+at |node_modules|\.ts:\d+|\.js:\d+/.test(text)) return `stack trace in the answer: ${text.slice(0, 300)}`;
  if (text.includes(env.users.admin.password) || /guest:guest/.test(text)) return 'a password in the answer';
  return null;
}

test('1,000+ generated bad requests on every route: no 5xx, every error body matches its schema', async (t) => {
  const seed = Number(process.env.QMIG_BAD_INPUT_SEED ?? 20251122);
  t.diagnostic(`seed ${seed} (QMIG_BAD_INPUT_SEED=${seed} reproduces this run)`);
  const vhost = await testVhost(t, { suffix: '-bad/ü&x' });
  const users = {
    admin: await testUser(t, ['administrator'], [vhost]),
    monitoring: await testUser(t, ['monitoring'], [vhost]),
    management: await testUser(t, ['management'], [vhost]),
    policymaker: await testUser(t, ['policymaker'], []),
    notags: await testUser(t, [], [vhost]),
  };
  // A finished migration of this vhost, so that status/:id, interrupt and POST status meet a real record.
  const store = new MigrationStore(admin(), testSeal());
  const now = new Date();
  const recordId = newMigrationId(cluster.nodeNames[0], now);
  const queues: QueueRecord[] = ['a', 'b c', 'ü/&'].map((name) => ({
    name,
    vhost,
    status: 'completed',
    started_at: timestamp(now),
    completed_at: timestamp(now),
    total_messages: 3,
    migrated_messages: 3,
    error: null,
    phase: 'done',
    location: 'quorum',
    original: null,
    detail: {},
  }));
  const record: MigrationRecord = {
    id: recordId,
    display_id: displayId(vhost, timestamp(now), cluster.nodeNames[0]),
    vhost,
    node: cluster.nodeNames[0],
    started_at: timestamp(now),
    completed_at: timestamp(now),
    total_queues: 3,
    completed_queues: 3,
    skipped_queues: 0,
    failed_queues: 0,
    status: 'completed',
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: startOptions(),
    owner: 'bad-input-suite',
    queue_chunks: 0,
    interrupt_requested: false,
    notes: [],
    engine: { lock_vhost: vhost },
    updated_at: timestamp(now),
  };
  await store.create(record, queues);
  t.after(() => store.delete(record).catch(() => undefined));

  const sidecar = await startTestSidecar(t, { env: reliabilityEnv(vhost, { QMIG_AUTH_FAILURE_LIMIT: '100000' }) });
  t.after(() => agent.destroy());
  const env: Env = { vhost, recordId, users };
  const cases = generate(seed, env);
  assert.ok(cases.length >= 1000, `only ${cases.length} cases generated`);

  const base = new URL(sidecar.url);
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  // A few at a time: fast, yet never a flood that the broker would feel.
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= cases.length) return;
      const c = cases[i];
      let a: Answer;
      try {
        a = await send(base, c);
      } catch (err) {
        failures.push(`#${i} ${c.method} ${c.path.slice(0, 120)} (${c.why}): no answer: ${(err as Error).message}`);
        continue;
      }
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      const problem = judge(c, a, env);
      if (problem) failures.push(`#${i} ${c.method} ${c.path.slice(0, 120)} (${c.why}): ${problem}`);
      if (c.why.startsWith('huge body') && a.status !== 413 && a.status !== 401) failures.push(`#${i} ${c.why}: ${a.status}, expected 413`);
      if (c.why.startsWith('user tagged') && !c.why.includes('monitoring') && a.status !== 401 && a.status !== 403)
        failures.push(`#${i} ${c.why}: ${a.status}, expected 401/403`);
      if (c.why.startsWith('user tagged monitoring') && c.method === 'POST' && !c.path.startsWith('/check') && a.status !== 403)
        failures.push(`#${i} ${c.why}: ${a.status}, expected 403`);
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  t.diagnostic(`${cases.length} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((x, y) => x[0] - y[0])))}`);
  assert.deepEqual(failures.slice(0, 40), [], `${failures.length} failure(s) of ${cases.length}`);
  // The record the suite poked at is unchanged.
  assert.equal((await store.loadRecord(recordId))?.status, 'completed');
});
