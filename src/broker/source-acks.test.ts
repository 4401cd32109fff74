import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumeMessage } from 'amqplib';
import { SourceAcks } from './source-acks.js';

const messages = new Map<number, ConsumeMessage>();
/** The one delivery with this tag (the mover passes the same object to forwarded and confirmed). */
const msg = (tag: number) => {
  if (!messages.has(tag)) messages.set(tag, { fields: { deliveryTag: tag } } as unknown as ConsumeMessage);
  return messages.get(tag)!;
};
const tick = () => new Promise((r) => setImmediate(r));

function recorder() {
  const acks: Array<[number, boolean]> = [];
  let open = true;
  return {
    acks,
    close: () => (open = false),
    channel: {
      ack: (m: ConsumeMessage, all?: boolean) => {
        if (!open) throw new Error('Channel closed');
        acks.push([m.fields.deliveryTag, all === true]);
      },
    },
  };
}

/** Every message acknowledged (alone, or by a multiple ack) must have been confirmed. */
function settled(acks: Array<[number, boolean]>): number[] {
  const out = new Set<number>();
  for (const [tag, all] of acks) {
    if (all) for (let t = 1; t <= tag; t++) out.add(t);
    else out.add(tag);
  }
  return [...out].sort((a, b) => a - b);
}

test('confirms handled together are settled by one multiple ack of the last one', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  for (const t of [1, 2, 3, 4]) a.forwarded(msg(t));
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

test('a message confirmed ahead of an earlier unconfirmed one waits for it: no multiple ack ever settles an unconfirmed message', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  for (const t of [1, 2, 3, 4, 5]) a.forwarded(msg(t));
  a.confirmed(msg(1));
  a.confirmed(msg(3)); // out of publish order (a mirrored destination)
  a.confirmed(msg(5));
  await tick();
  assert.deepEqual(settled(r.acks), [1]);
  a.confirmed(msg(2));
  await tick();
  assert.deepEqual(settled(r.acks), [1, 2, 3]);
  a.confirmed(msg(4));
  await tick();
  assert.deepEqual(settled(r.acks), [1, 2, 3, 4, 5]);
});

test('after a refused message: the confirmed run before it acked at once, confirmed ones after it alone, the refused one never', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  for (const t of [1, 2, 3, 4, 5, 6]) a.forwarded(msg(t));
  a.confirmed(msg(1));
  a.confirmed(msg(2));
  a.confirmed(msg(4)); // ahead of 3
  a.refused(); // message 3 refused by the destination
  a.confirmed(msg(5));
  a.flush();
  await tick();
  assert.deepEqual(r.acks, [
    [2, true],
    [4, false],
    [5, false],
  ]);
  assert.ok(!settled(r.acks).includes(3), 'the refused message stays in the source');
  assert.ok(!settled(r.acks).includes(6), 'an unconfirmed message is not acknowledged');
});

test('a delivery that was not forwarded (a gap in the tags) ends the batching: nothing settles it', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  a.forwarded(msg(1));
  a.forwarded(msg(3)); // delivery 2 was not forwarded
  a.confirmed(msg(1));
  a.confirmed(msg(3));
  await tick();
  assert.deepEqual(settled(r.acks), [1, 3]);
  assert.deepEqual(r.acks, [
    [1, false],
    [3, false],
  ]);
});

test('single mode (messages held back, forwarded out of order) acks each message alone', async () => {
  const r = recorder();
  const a = new SourceAcks(r.channel, true);
  a.forwarded(msg(5));
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
  const r = recorder();
  const a = new SourceAcks(r.channel, false);
  a.forwarded(msg(1));
  a.forwarded(msg(2));
  a.confirmed(msg(1));
  r.close(); // the broker closes the channel before the scheduled ack runs
  await tick(); // must not throw out of the timer
  a.close();
  a.confirmed(msg(2)); // a confirm that arrives after the close
  assert.doesNotThrow(() => a.refused(), 'confirms failed by a closing channel');
  await tick();
  assert.deepEqual(r.acks, []);

  const r2 = recorder();
  const b = new SourceAcks(r2.channel, false);
  b.forwarded(msg(1));
  b.confirmed(msg(1));
  b.close(); // the pending acknowledgement goes out on close
  b.confirmed(msg(1));
  await tick();
  assert.deepEqual(r2.acks, [[1, true]]);
});
