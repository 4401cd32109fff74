import { ManagementClient, enc } from '../src/broker/management-client.js';
import { AmqpPool } from '../src/broker/amqp.js';
import amqp from 'amqplib';
const m = new ManagementClient({ baseUrl: 'http://127.0.0.1:16672', user: 'guest', password: 'guest' });
const pool = new AmqpPool({ url: 'amqp://127.0.0.1:6672', user: 'guest', password: 'guest' });
const vh = 'qmig-exp-' + Date.now();
const t = () => performance.now();
await m.ok('PUT', `/vhosts/${enc(vh)}`, {});
await m.setPermission(vh, 'guest', { configure: '.*', write: '.*', read: '.*' });
try {
  await m.ok('PUT', `/policies/${enc(vh)}/ha`, { pattern: '^c', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' }, 'apply-to': 'queues' });
  let s = t();
  await m.declareQueue(vh, 'c1', { durable: true, arguments: {} });
  console.log('classic declare', t() - s);
  s = t();
  await m.declareQueue(vh, 'tmp1', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  console.log('quorum declare', t() - s);
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:6672/${enc(vh)}`);
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < 100; i++) ch.sendToQueue('c1', Buffer.from('x'.repeat(100)), { persistent: true, headers: { i } });
  await ch.waitForConfirms();
  await conn.close();
  s = t();
  await m.putShovel(vh, 'sh1', { 'src-uri': `amqp:///${enc(vh)}`, 'src-queue': 'c1', 'dest-uri': `amqp:///${enc(vh)}`, 'dest-queue': 'tmp1', 'ack-mode': 'on-confirm', 'src-delete-after': 'never', 'src-prefetch-count': 100 });
  console.log('put shovel', t() - s);
  let polls = 0;
  for (;;) {
    polls++;
    const a = await pool.messageCount(vh, 'c1');
    const b = await pool.messageCount(vh, 'tmp1');
    if (a === 0 && b! >= 100) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  console.log('moved', t() - s, 'polls', polls);
  let s2 = t();
  await m.deleteShovel(vh, 'sh1');
  console.log('delete shovel', t() - s2, 'c1', await pool.messageCount(vh, 'c1'), 'tmp1', await pool.messageCount(vh, 'tmp1'));
  console.log('shovels', JSON.stringify(await m.shovels(vh)));
  console.log('conns', JSON.stringify((await m.ok<any[]>('GET', `/connections`)).map((c) => [c.name, c.user, c.type, c.vhost])));
  // global param timing
  const big = Array.from({ length: 200 }, (_, i) => ({ name: 'queue-' + i, vhost: vh, status: 'pending', original: { arguments: { 'x-dead-letter-exchange': 'dlx' }, bindings: [{ source: 'ex', routing_key: 'rk' + i, arguments: {} }], policy: 'ha', effective_policy_definition: { 'ha-mode': 'exactly', 'ha-params': 2 } }, detail: { temp: 'qmig.tmp.queue-' + i } }));
  console.log('chunk bytes', JSON.stringify(big).length);
  s = t();
  for (let i = 0; i < 20; i++) await m.putGlobalParameter('qmig.exp.' + vh, big);
  console.log('20 chunk puts', t() - s);
  s = t();
  await Promise.all(Array.from({ length: 20 }, () => m.putGlobalParameter('qmig.exp.' + vh, big)));
  console.log('20 parallel chunk puts', t() - s);
  await m.deleteGlobalParameter('qmig.exp.' + vh);
  s = t();
  for (let i = 0; i < 10; i++) await m.declareQueue(vh, 'qq' + i, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  console.log('10 serial quorum declares', t() - s);
  s = t();
  await Promise.all(Array.from({ length: 10 }, (_, i) => m.declareQueue(vh, 'qp' + i, { durable: true, arguments: { 'x-queue-type': 'quorum' } })));
  console.log('10 parallel quorum declares', t() - s);
  s = t();
  for (let i = 0; i < 10; i++) await m.deleteQueue(vh, 'qq' + i);
  console.log('10 serial quorum deletes', t() - s);
} finally {
  await m.deleteIfExists(`/vhosts/${enc(vh)}`);
  await pool.close();
}
