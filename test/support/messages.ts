/**
 * Publishing and reading real messages over AMQP (amqplib), with publisher confirms, and the
 * integrity fingerprint used to prove nothing was lost: the multiset of
 * (body checksum, properties, headers) of every message in a queue.
 */
import amqp from 'amqplib';
import { createHash } from 'node:crypto';
import { canonical } from '../../src/broker/canonical-json.js';
import { amqpUrl } from './cluster.js';

export interface TestMessage {
  body: Buffer | string;
  properties?: amqp.Options.Publish;
}

/** Publishes to the default exchange (routing key = queue) or to `exchange`, with confirms. */
export async function publish(
  vhost: string,
  target: { queue?: string; exchange?: string; routingKey?: string },
  messages: TestMessage[] | number,
  node = 0,
): Promise<void> {
  const conn = await amqp.connect(amqpUrl(vhost, node));
  try {
    const ch = await conn.createConfirmChannel();
    const list: TestMessage[] =
      typeof messages === 'number'
        ? Array.from({ length: messages }, (_, i) => ({ body: `message-${i}`, properties: { persistent: true, messageId: `m${i}`, headers: { n: i } } }))
        : messages;
    const exchange = target.exchange ?? '';
    const key = target.routingKey ?? target.queue ?? '';
    for (let i = 0; i < list.length; i++) {
      const m = list[i];
      const ok = ch.publish(exchange, key, Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body), m.properties ?? {});
      if (!ok) await new Promise((r) => ch.once('drain', r));
      if (i % 5000 === 4999) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Exact ready count by passive declare. */
export async function messageCount(vhost: string, queue: string, node = 0): Promise<number> {
  const conn = await amqp.connect(amqpUrl(vhost, node));
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/**
 * The integrity fingerprint of one delivered message: body checksum, properties and headers,
 * without what the broker itself sets on redelivery or dead-lettering.
 */
export function fingerprintOf(msg: Pick<amqp.Message, 'content' | 'properties'>): string {
  const headers = { ...(msg.properties.headers ?? {}) };
  for (const h of ['x-delivery-count', 'x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason']) delete headers[h];
  const { headers: _h, ...props } = msg.properties;
  void _h;
  const cleanProps = Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined));
  return JSON.stringify(canonical({ sha: createHash('sha256').update(msg.content).digest('hex'), props: cleanProps, headers }));
}

/**
 * Reads every message of the queue without removing it (received without ack, then the connection
 * closes and they are requeued) and returns the sorted list of fingerprints. The messages counted
 * at the start are taken by a consumer without a prefetch limit (they all stay unacknowledged;
 * fast for queues of thousands), the rest (a quorum queue's consumer gets 2,000 at most) and any
 * later arrival by basic.get until the queue answers empty.
 * Properties the broker itself sets on redelivery or per hop are left out.
 */
export async function fingerprint(vhost: string, queue: string, node = 0): Promise<string[]> {
  const conn = await amqp.connect(amqpUrl(vhost, node));
  const out: string[] = [];
  try {
    const ch = await conn.createChannel();
    const ready = (await ch.checkQueue(queue)).messageCount;
    if (ready > 0) {
      // A quorum queue gives a consumer without a prefetch limit 2,000 messages at most: when
      // deliveries stop short, the rest is read by basic.get below.
      let consumer: Promise<{ consumerTag: string }> | null = null;
      let last = Date.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (out.length < ready && Date.now() - last < 1000) return;
          clearInterval(timer);
          resolve();
        }, 25);
        consumer = ch.consume(
          queue,
          (msg) => {
            if (!msg) return;
            out.push(fingerprintOf(msg));
            last = Date.now();
          },
          { noAck: false },
        );
        consumer.catch((err) => {
          clearInterval(timer);
          reject(err);
        });
      });
      await ch.cancel((await consumer!).consumerTag);
    }
    for (;;) {
      const msg = await ch.get(queue, { noAck: false });
      if (!msg) break;
      out.push(fingerprintOf(msg));
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
  return out.sort();
}
