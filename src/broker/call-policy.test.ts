import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AxiosAdapter, InternalAxiosRequestConfig } from 'axios';
import { BrokerError, BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import { backoffDelay, callWithPolicy, DEFAULT_RETRY_POLICY, isTransientCallFailure, TransportError, type RetryClock } from './call-policy.js';
import { ManagementClient } from './management-client.js';

/** A clock that records the back-off delays instead of sleeping. */
function fakeClock(randoms: number[] = [0.5]): RetryClock & { slept: number[] } {
  let now = 0;
  let i = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    random: () => randoms[i++ % randoms.length],
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

type Answer = number | { status: number; data?: unknown } | 'ECONNRESET' | 'ECONNABORTED' | 'ECONNREFUSED';

/** A fake HTTP transport: answers the scripted responses in order and logs every request. */
function fakeTransport(script: Record<string, Answer[]>): { adapter: AxiosAdapter; calls: string[] } {
  const calls: string[] = [];
  const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
    const key = `${config.method!.toUpperCase()} ${config.url}`;
    calls.push(key);
    const answers = script[key];
    assert.ok(answers && answers.length > 0, `unexpected call ${key}`);
    const next = answers.length > 1 ? answers.shift()! : answers[0];
    if (typeof next === 'string') throw Object.assign(new Error(next), { code: next, isAxiosError: true });
    const { status, data } = typeof next === 'number' ? { status: next, data: '' } : next;
    return { status, statusText: String(status), data, headers: {}, config };
  };
  return { adapter, calls };
}

const client = (adapter: AxiosAdapter, clock: RetryClock) =>
  new ManagementClient({ baseUrl: 'http://broker.invalid:15672', user: 'u', password: 'p', adapter, clock, log: { warn: () => undefined } as never });

const SHOVEL = '/parameters/shovel/v/s';

test('back-off doubles up to the cap and is jittered within the upper half (never zero, never lockstep)', () => {
  const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 200, maxDelayMs: 3000 };
  assert.equal(
    backoffDelay(p, 1, () => 0),
    100,
  );
  assert.equal(
    backoffDelay(p, 1, () => 0.999999),
    200,
  );
  assert.equal(
    backoffDelay(p, 3, () => 0),
    400,
  );
  assert.equal(
    backoffDelay(p, 10, () => 0),
    1500,
  );
  assert.equal(
    backoffDelay(p, 10, () => 0.999999),
    3000,
  );
  const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(p, 4, Math.random)));
  assert.ok(delays.size > 1, 'two callers failing together do not retry at the same moment');
});

test('transient failures: 5xx, connection reset, timeout; not a refused connection nor a 4xx', () => {
  assert.equal(isTransientCallFailure(new BrokerError('500')), true);
  assert.equal(isTransientCallFailure(new TransportError('reset', 'ECONNRESET')), true);
  assert.equal(isTransientCallFailure(new TransportError('timeout', 'ECONNABORTED')), true);
  assert.equal(isTransientCallFailure(new TransportError('refused', 'ECONNREFUSED')), false);
  assert.equal(isTransientCallFailure(new BrokerRequestError(400, 'DELETE', '/x', 'bad')), false);
});

test('a delete answered 500 whose object is gone when read back is settled as deleted, without a second delete', async () => {
  const clock = fakeClock();
  const t = fakeTransport({ [`DELETE ${SHOVEL}`]: [500], [`GET ${SHOVEL}`]: [404] });
  assert.equal(await client(t.adapter, clock).deleteShovel('v', 's'), true);
  assert.deepEqual(t.calls, [`DELETE ${SHOVEL}`, `GET ${SHOVEL}`]);
  assert.deepEqual(clock.slept, []);
});

test('a delete answered 500 whose object is still there is made again after a jittered back-off', async () => {
  const clock = fakeClock([0.25, 0.75]);
  const t = fakeTransport({ [`DELETE ${SHOVEL}`]: [500, 'ECONNRESET', 204], [`GET ${SHOVEL}`]: [{ status: 200, data: { name: 's' } }] });
  assert.equal(await client(t.adapter, clock).deleteShovel('v', 's'), true);
  assert.deepEqual(t.calls, [`DELETE ${SHOVEL}`, `GET ${SHOVEL}`, `DELETE ${SHOVEL}`, `GET ${SHOVEL}`, `DELETE ${SHOVEL}`]);
  assert.deepEqual(clock.slept, [125, 350]);
});

test('a delete that keeps failing ends with an error that says what the broker showed', async () => {
  const clock = fakeClock();
  const t = fakeTransport({ [`DELETE ${SHOVEL}`]: [500], [`GET ${SHOVEL}`]: [{ status: 200, data: {} }] });
  await assert.rejects(client(t.adapter, clock).deleteShovel('v', 's'), (err: Error) => {
    assert.ok(err instanceof BrokerError);
    assert.match(err.message, /answered 500.*5 tries; the broker still shows it/);
    return true;
  });
  assert.equal(t.calls.filter((c) => c.startsWith('DELETE')).length, DEFAULT_RETRY_POLICY.attempts);
});

test('a 4xx answer is final: no retry, no read-back', async () => {
  const clock = fakeClock();
  const path = '/queues/v/q';
  const t = fakeTransport({ [`DELETE ${path}`]: [{ status: 400, data: { reason: 'not empty' } }] });
  await assert.rejects(client(t.adapter, clock).deleteQueue('v', 'q', { ifEmpty: true }), BrokerRequestError);
  assert.deepEqual(t.calls, [`DELETE ${path}`]);
});

test('reads and declarations are retried on 5xx, reset and timeout; a refused connection fails at once', async () => {
  const clock = fakeClock();
  const t = fakeTransport({ 'GET /queues/v/q': [503, 'ECONNABORTED', { status: 200, data: { name: 'q' } }], 'PUT /queues/v/q2': [502, 201] });
  const c = client(t.adapter, clock);
  assert.deepEqual(await c.queue('v', 'q'), { name: 'q' });
  await c.declareQueue('v', 'q2', { durable: true });
  assert.equal(clock.slept.length, 3);
  const refused = fakeTransport({ 'GET /nodes': ['ECONNREFUSED'] });
  await assert.rejects(client(refused.adapter, clock).nodes(), BrokerUnavailableError);
  assert.equal(refused.calls.length, 1);
});

test('a shovel PUT answered with an error is settled by reading the parameter back, not made blindly again', async () => {
  const value = { 'src-queue': 'a', 'dest-queue': 'b' };
  const created = fakeTransport({ [`PUT ${SHOVEL}`]: [500], [`GET ${SHOVEL}`]: [{ status: 200, data: { value: { 'dest-queue': 'b', 'src-queue': 'a' } } }] });
  await client(created.adapter, fakeClock()).putShovel('v', 's', value);
  assert.deepEqual(created.calls, [`PUT ${SHOVEL}`, `GET ${SHOVEL}`], 'created despite the 500: not PUT again');
  const absent = fakeTransport({ [`PUT ${SHOVEL}`]: ['ECONNRESET', 201], [`GET ${SHOVEL}`]: [404] });
  await client(absent.adapter, fakeClock()).putShovel('v', 's', value);
  assert.deepEqual(absent.calls, [`PUT ${SHOVEL}`, `GET ${SHOVEL}`, `PUT ${SHOVEL}`]);
});

test('a POST that is not known to be idempotent is made once', async () => {
  const t = fakeTransport({ 'POST /exchanges/v/x/publish': [500] });
  await assert.rejects(client(t.adapter, fakeClock()).request('POST', '/exchanges/v/x/publish', {}), BrokerError);
  assert.equal(t.calls.length, 1);
  const bind = fakeTransport({ 'POST /bindings/v/e/x/q/q': [500, 201] });
  await client(bind.adapter, fakeClock()).bindQueue('v', 'x', 'q', 'k', {});
  assert.equal(bind.calls.length, 2, 'a binding is idempotent: made again');
});

test('the retry budget stops retries of a slow broker', async () => {
  const clock = fakeClock();
  let calls = 0;
  await assert.rejects(
    callWithPolicy(
      async () => {
        calls++;
        await clock.sleep(40_000);
        throw new TransportError('timeout', 'ECONNABORTED');
      },
      { policy: { ...DEFAULT_RETRY_POLICY, budgetMs: 60_000 }, clock },
    ),
    /2 tries/,
  );
  assert.equal(calls, 2);
});
