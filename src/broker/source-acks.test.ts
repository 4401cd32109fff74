import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumeMessage } from 'amqplib';
import { SourceAcks } from './source-acks.js';

const msg = (tag: number) => ({ fields: { deliveryTag: tag } }) as unknown as ConsumeMessage;
const tick = () => new Promise((r) => setImmediate(r));

function recorder() {
  const acks: Array<[number, boolean]> = [];
  return { acks, channel: { ack: (m: ConsumeMessage, all?: boolean) => void acks.push([m.fields.deliveryTag, all === true]) } };
}

test('confirms handled together are settled by one multiple ack of the last one', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  for (const t of [1, 2, 3]) a.confirmed(msg(t));
  assert.deepEqual(r.acks, [], 'nothing is sent while the confirm frame is being handled');
  await tick();
  assert.deepEqual(r.acks, [[3, true]]);
  a.confirmed(msg(4));
  a.flush();
  assert.deepEqual(r.acks, [
    [3, true],
    [4, true],
  ]);
  await tick();
  assert.equal(r.acks.length, 2, 'a flushed ack is not sent twice');
});

test('after a refused message no multiple ack can settle it: what came before is acked, then one at a time', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  a.confirmed(msg(1));
  a.confirmed(msg(2));
  a.refused(); // message 3 refused by the destination
  a.confirmed(msg(4));
  await tick();
  assert.deepEqual(r.acks, [
    [2, true],
    [4, false],
  ]);
});

test('single mode (messages held back, forwarded out of order) acks each message alone', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, true);
  a.confirmed(msg(5));
  a.confirmed(msg(2));
  a.flush();
  await tick();
  assert.deepEqual(r.acks, [
    [5, false],
    [2, false],
  ]);
});

test('a channel closed by the broker never makes the scheduled ack throw; after close() nothing is acknowledged', async () => {
  const acks: number[] = [];
  let open = true;
  const channel = {
    ack: (m: ConsumeMessage) => {
      if (!open) throw new Error('Channel closed');
      acks.push(m.fields.deliveryTag);
    },
  };
  const a = new SourceAcks(channel, false);
  a.confirmed(msg(1));
  open = false; // the broker closes the channel before the scheduled ack runs
  await tick(); // must not throw out of the timer
  assert.deepEqual(acks, []);
  a.close();
  a.confirmed(msg(2)); // a confirm that arrives after the close
  const single = new SourceAcks(channel, true);
  single.close();
  single.confirmed(msg(3));
  await tick();
  assert.deepEqual(acks, []);
  open = true;
  const b = new SourceAcks(channel, false);
  b.confirmed(msg(4));
  b.close(); // pending acknowledgement goes out on close
  await tick();
  assert.deepEqual(acks, [4]);
});

test('confirms failed by a closing channel (refused) do not throw either', () => {
  const a = new SourceAcks(
    {
      ack: () => {
        throw new Error('Channel closed');
      },
    },
    false,
  );
  a.confirmed(msg(1));
  assert.doesNotThrow(() => a.refused());
});
