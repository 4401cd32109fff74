import assert from 'node:assert/strict';
import { test } from 'node:test';
import axios, { AxiosError, type AxiosAdapter } from 'axios';
import { endpointOf, instrumentBrokerClient, statusClass } from './broker-instrumentation.js';
import { brokerErrors, brokerRequestDuration } from './metrics.js';

async function total(metric: typeof brokerErrors | typeof brokerRequestDuration, labels: Record<string, string>, suffix = ''): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => (suffix ? (v as { metricName?: string }).metricName?.endsWith(suffix) : true))
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k as keyof typeof v.labels] === l))
    .reduce((n, v) => n + v.value, 0);
}

test('endpoint labels are the first path segment, never a name', () => {
  assert.equal(endpointOf('/queues/%2F/orders'), 'queues');
  assert.equal(endpointOf('/global-parameters/qmig.x?y=1'), 'global-parameters');
  assert.equal(endpointOf('http://h:15672/api/whoami'), 'whoami');
  assert.equal(endpointOf('/%2Fweird'), 'other');
  assert.equal(endpointOf(undefined), 'other');
  assert.equal(statusClass(204), '2xx');
  assert.equal(statusClass(503), '5xx');
});

test('every request is timed; 5xx, other 4xx and unreachable are errors, 401/403/404 are not', async () => {
  const statuses: Record<string, number> = { '/nodes': 200, '/queues/v/q': 404, '/whoami': 401, '/overview': 503, '/policies/v/p': 400 };
  const adapter: AxiosAdapter = async (config) => {
    if (config.url === '/down') throw new AxiosError('connect ECONNREFUSED', 'ECONNREFUSED', config);
    return { data: {}, status: statuses[config.url!], statusText: '', headers: {}, config };
  };
  const http = axios.create({ adapter, validateStatus: () => true });
  instrumentBrokerClient(http);
  instrumentBrokerClient(http); // idempotent: counted once below

  const timed = await total(brokerRequestDuration, { method: 'GET', endpoint: 'nodes', status_class: '2xx' }, '_count');
  const errors = {
    server: await total(brokerErrors, { kind: 'server_error', endpoint: 'overview' }),
    client: await total(brokerErrors, { kind: 'client_error', endpoint: 'policies' }),
    unreachable: await total(brokerErrors, { kind: 'unreachable', endpoint: 'down' }),
    notErrors: (await total(brokerErrors, { endpoint: 'queues' })) + (await total(brokerErrors, { endpoint: 'whoami' })),
  };
  await http.get('/nodes');
  await http.get('/queues/v/q');
  await http.get('/whoami');
  await http.get('/overview');
  await http.put('/policies/v/p', {});
  await assert.rejects(http.get('/down'));

  assert.equal(await total(brokerRequestDuration, { method: 'GET', endpoint: 'nodes', status_class: '2xx' }, '_count'), timed + 1);
  assert.equal(await total(brokerErrors, { kind: 'server_error', endpoint: 'overview' }), errors.server + 1);
  assert.equal(await total(brokerErrors, { kind: 'client_error', endpoint: 'policies' }), errors.client + 1);
  assert.equal(await total(brokerErrors, { kind: 'unreachable', endpoint: 'down' }), errors.unreachable + 1);
  assert.equal((await total(brokerErrors, { endpoint: 'queues' })) + (await total(brokerErrors, { endpoint: 'whoami' })), errors.notErrors);
});
