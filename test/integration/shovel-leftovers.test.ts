/**
 * Shovels that outlive what the API shows (issue 13), on the real cluster: a worker whose
 * parameter is gone, a status row whose worker is gone, and a shovel reported running that moves
 * nothing. src/broker/shovel-leftovers.ts explains how RabbitMQ 3.10 gets there.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import amqp from 'amqplib';
import { AmqpPool } from '../../src/broker/amqp.js';
import { enc } from '../../src/broker/management-client.js';
import { removeShovels, shovelConsumedQueues } from '../../src/broker/shovel-leftovers.js';
import { moveMessages, shovelDefinition, ShovelStalledError } from '../../src/broker/shovels.js';
import { admin, amqpUrl, cluster, rabbitmqctl } from '../support/cluster.js';
import { messageCount, publish } from '../support/messages.js';
import { testVhost } from '../support/vhost.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function queues(vhost: string, ...names: string[]): Promise<void> {
  for (const n of names) await admin().ok('PUT', `/queues/${enc(vhost)}/${enc(n)}`, { durable: true });
}

/** Waits until the broker lists (or no longer lists) a shovel consumer on `queue`. */
async function consumed(vhost: string, queue: string, wanted: boolean): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await shovelConsumedQueues(admin(), vhost, new Set([queue]))).includes(queue) === wanted) return;
    await sleep(200);
  }
  assert.fail(`a shovel consumer on '${queue}' is ${wanted ? 'not' : 'still'} listed`);
}

function pool(t: TestContext): AmqpPool {
  const p = new AmqpPool({ url: cluster.amqpUrls[0], user: cluster.user, password: cluster.password });
  t.after(() => p.close());
  return p;
}

test('a shovel worker whose parameter is gone (an abandoned PUT started behind its delete) is found and stopped', async (t) => {
  const vhost = await testVhost(t);
  await queues(vhost, 'src', 'dst');
  const name = 'qmig.shovel.src.to-temporary';
  await admin().putShovel(vhost, name, shovelDefinition(vhost, 'src', 'dst', 100));
  await consumed(vhost, 'src', true);
  // The parameter disappears from the database without the worker being told: the state a
  // start that ran after the delete leaves behind.
  await rabbitmqctl(0, 'eval', `mnesia:dirty_delete(rabbit_runtime_parameters, {<<"${vhost}">>, <<"shovel">>, <<"${name}">>}).`);
  assert.deepEqual(await admin().shovelParameters(vhost), [], 'no parameter names the worker');
  await publish(vhost, { queue: 'src' }, 5);
  await waitCount(vhost, 'dst', 5);

  assert.equal(await removeShovels(admin(1), vhost, [name]), 1, 'the orphan counts as one shovel removed');
  assert.deepEqual(await shovelConsumedQueues(admin(), vhost), [], 'no shovel consumes any more');
  await publish(vhost, { queue: 'src' }, 3);
  await sleep(1500);
  assert.equal(await messageCount(vhost, 'src'), 3, 'what arrives now stays in the source');
  assert.equal(await messageCount(vhost, 'dst'), 5);
  assert.deepEqual(await admin().shovelParameters(vhost), [], 'taking the name over leaves no parameter');
});

test('a status row left by a delete through another node: the worker is gone; the row is not counted as a leftover and removing it again is harmless', async (t) => {
  const vhost = await testVhost(t);
  await queues(vhost, 'src', 'dst');
  const name = 'qmig.shovel.src.to-quorum';
  await admin(0).putShovel(vhost, name, shovelDefinition(vhost, 'src', 'dst', 100));
  await consumed(vhost, 'src', true);
  await admin(1).deleteShovel(vhost, name);
  await consumed(vhost, 'src', false);
  const rows = (await admin().shovels(vhost)).filter((r) => r.name === name);
  t.diagnostic(`status rows left after the delete through node 2: ${JSON.stringify(rows.map((r) => [r.node, r.state]))}`);

  assert.equal(await removeShovels(admin(1), vhost, [name]), 0, 'a stale row is not a shovel found (or a resumed queue would re-check itself for ever)');
  assert.deepEqual(await admin().shovelParameters(vhost), []);
  await publish(vhost, { queue: 'src' }, 4);
  await sleep(1000);
  assert.equal(await messageCount(vhost, 'src'), 4, 'nothing consumes the source');
});

test('a shovel reported running that moves nothing is created again twice, then the move fails clearly; nothing is lost', async (t) => {
  const vhost = await testVhost(t);
  // A single-active-consumer source whose active consumer holds a message without acknowledging
  // it: the shovel's consumer is registered (the shovel reports running) and receives nothing.
  await admin().ok('PUT', `/queues/${enc(vhost)}/src`, { durable: true, arguments: { 'x-single-active-consumer': true } });
  await queues(vhost, 'dst');
  await publish(vhost, { queue: 'src' }, 20);
  const conn = await amqp.connect(amqpUrl(vhost));
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.prefetch(1);
  await ch.consume('src', () => undefined, { noAck: false });
  await waitCount(vhost, 'src', 19);

  const stalls: string[] = [];
  const started = Date.now();
  const err = await moveMessages(admin(), pool(t), {
    vhost,
    name: 'qmig.shovel.src.to-temporary',
    source: 'src',
    destination: 'dst',
    startTimeoutMs: 2000,
    timeoutMs: 120_000,
    onStall: (seen) => stalls.push(seen),
  }).then(
    () => assert.fail('the move must not succeed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ShovelStalledError, String(err));
  assert.match(err.message, /reported running but moved nothing for \d+ s \(19 message\(s\) in the source\)/);
  assert.equal(stalls.length, 2, 'created again twice before failing');
  assert.ok(Date.now() - started < 60_000, `failed within a minute, not after QMIG_SHOVEL_TIMEOUT_SECONDS (${Date.now() - started} ms)`);
  assert.deepEqual(await admin().shovelParameters(vhost), [], 'no shovel left');
  await consumed(vhost, 'src', false);
  await conn.close();
  await waitCount(vhost, 'src', 20);
  assert.equal(await messageCount(vhost, 'dst'), 0);
});

async function waitCount(vhost: string, queue: string, n: number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    last = await messageCount(vhost, queue);
    if (last === n) return;
    await sleep(100);
  }
  assert.fail(`'${queue}' holds ${last} message(s), expected ${n}`);
}
