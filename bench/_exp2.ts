import { ManagementClient, enc } from '../src/broker/management-client.js';
import amqp from 'amqplib';
const m = new ManagementClient({ baseUrl: 'http://127.0.0.1:16672', user: 'guest', password: 'guest' });
const vh = 'qmig-exp-' + Date.now();
await m.ok('PUT', `/vhosts/${enc(vh)}`, {});
await m.setPermission(vh, 'guest', { configure: '.*', write: '.*', read: '.*' });
const tryDeclare = async (name: string, args: Record<string, unknown>) => {
  try { await m.declareQueue(vh, name, { durable: true, arguments: args }); console.log('ok', name, JSON.stringify(args)); }
  catch (e) { console.log('FAIL', name, JSON.stringify(args), (e as Error).message); }
};
try {
  await tryDeclare('q-ttl', { 'x-queue-type': 'quorum', 'x-message-ttl': 60000 });
  await tryDeclare('q-rpdlx', { 'x-queue-type': 'quorum', 'x-overflow': 'reject-publish-dlx' });
  await tryDeclare('q-unknown', { 'x-queue-type': 'quorum', 'x-custom-thing': 'abc', 'foo': 1 });
  await tryDeclare('q-expires', { 'x-queue-type': 'quorum', 'x-expires': 3600000 });
  await tryDeclare('q-prio', { 'x-queue-type': 'quorum', 'x-max-priority': 5 });
  await tryDeclare('q-mode', { 'x-queue-type': 'quorum', 'x-queue-mode': 'lazy' });
  await tryDeclare('q-sac', { 'x-queue-type': 'quorum', 'x-single-active-consumer': true, 'x-max-length': 10, 'x-overflow': 'drop-head', 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'k' });
  await tryDeclare('q-node', { 'x-queue-type': 'quorum' });
  await m.declareQueue(vh, 'q-lead', { durable: true, arguments: { 'x-queue-type': 'quorum' }, node: 'test3@localhost' });
  console.log('leader', (await m.queue(vh, 'q-lead'))?.leader);
  await m.declareQueue(vh, 'c-src', { durable: true, arguments: {} });
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:6672/${enc(vh)}`);
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < 50000; i++) { if (!ch.sendToQueue('c-src', Buffer.from('x'.repeat(100)))) await new Promise(r => ch.once('drain', r)); }
  await ch.waitForConfirms();
  await conn.close();
  await m.putShovel(vh, 'sh', { 'src-uri': `amqp:///${enc(vh)}`, 'src-queue': 'c-src', 'dest-uri': `amqp:///${enc(vh)}`, 'dest-queue': 'q-sac', 'ack-mode': 'on-confirm', 'src-delete-after': 'never', 'src-prefetch-count': 1000 });
  await new Promise(r => setTimeout(r, 300));
  console.log('conns', JSON.stringify((await m.ok<any[]>('GET', `/vhosts/${enc(vh)}/connections`)).map((c) => [c.name, c.user, c.type, c.protocol, c.client_properties?.connection_name])));
  console.log('shovels', JSON.stringify(await m.shovels(vh)));
  await m.deleteShovel(vh, 'sh');
} finally {
  await m.deleteIfExists(`/vhosts/${enc(vh)}`);
}
