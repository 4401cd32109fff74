import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlarmGate, describeAlarms, type Alarm } from './alarm-pause.js';

const disk: Alarm = { node: 'rabbit@b', alarm: 'disk' };

/** A gate over a scripted sequence of reads (the last repeats), with a fake clock that sleeping advances. */
function gate(reads: Array<Alarm[] | Error>, stop: () => boolean = () => false) {
  let clock = 0;
  let i = 0;
  const events: string[] = [];
  const g = new AlarmGate({
    intervalMs: 1000,
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
    readAlarms: async () => {
      const r = reads[Math.min(i++, reads.length - 1)];
      events.push(`read#${i}`);
      if (r instanceof Error) throw r;
      return r;
    },
    paused: async (reason) => void events.push(`paused: ${reason}`),
    resumed: async (reason, ms) => void events.push(`resumed after ${ms} ms`),
    stopWaiting: async () => stop(),
    readFailed: (err) => void events.push(`read failed: ${(err as Error).message}`),
  });
  return { g, events, reads: () => i };
}

test('no alarm: the queue starts at once; reads within the interval are shared', async () => {
  const { g, events, reads } = gate([[]]);
  await Promise.all([g.pass(), g.pass(), g.pass()]);
  await g.pass();
  assert.equal(reads(), 1);
  assert.deepEqual(events, ['read#1']);
});

test('an alarm pauses once for all workers, and the run goes on when it clears', async () => {
  const { g, events } = gate([[disk], [disk], [disk], []]);
  await Promise.all([g.pass(), g.pass()]);
  assert.deepEqual(events, ['read#1', 'paused: disk alarm on rabbit@b', 'read#2', 'read#3', 'read#4', 'resumed after 3000 ms']);
});

test('an interrupt (or the run stopping) ends the wait with the alarm still raised', async () => {
  let asked = 0;
  const { g, events } = gate([[disk]], () => ++asked === 3);
  await g.pass();
  assert.deepEqual(events, ['read#1', 'paused: disk alarm on rabbit@b', 'read#2', 'read#3', 'resumed after 2000 ms']);
});

test('a failed read lets the queue start; while paused it is retried', async () => {
  const first = gate([new Error('timeout')]);
  await first.g.pass();
  assert.deepEqual(first.events, ['read#1', 'read failed: timeout']);
  const paused = gate([[disk], new Error('503'), []]);
  await paused.g.pass();
  assert.deepEqual(paused.events, ['read#1', 'paused: disk alarm on rabbit@b', 'read#2', 'read failed: 503', 'read#3', 'resumed after 2000 ms']);
});

test('describeAlarms names each alarm and node', () => {
  assert.equal(describeAlarms([disk, { node: 'rabbit@a', alarm: 'memory' }]), 'disk alarm on rabbit@b, memory alarm on rabbit@a');
});
