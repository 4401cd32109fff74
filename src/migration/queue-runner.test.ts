/**
 * The queue machine (queue-runner.ts + queue-graph.ts) with its broker actions faked in memory:
 * the order of the steps, a resume from each step, the failure clean-up path and the retry after a
 * transient outage. The real broker is covered by test/integration/migration-*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import type { MoveResult } from '../broker/shovels.js';
import type { SidecarMoveResult } from '../broker/sidecar-move.js';
import type { Context } from '../context.js';
import { BrokerUnavailableError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { MigrationRecord, QueueRecord, QueueStep } from '../state/records.js';
import type { MoveRequest, QueueActions } from './queue-actions.js';
import { RunAbortedError } from './queue-errors.js';
import { QueueMigrator } from './queue-runner.js';
import type { QueueRunEnv } from './queue-work.js';
import type { ObservedQueue } from './resume.js';
import { plannedQueue } from './status.js';

const NAME = 'orders';
const TEMP = 'qmig.tmp.orders';

interface FakeQueue {
  type: 'classic' | 'quorum';
  count: number;
}

/** An in-memory broker holding the queue and its temporary queue. */
class FakeActions implements QueueActions {
  readonly queues = new Map<string, FakeQueue>();
  readonly calls: string[] = [];
  /** Errors thrown once by the named action. */
  readonly failOnce = new Map<string, Error>();
  /** Messages a move into the named destination loses. */
  readonly loses = new Map<string, number>();
  /** Errors thrown by every move into the named destination. */
  readonly moveFails = new Map<string, Error>();

  constructor(messages: number) {
    this.queues.set(NAME, { type: 'classic', count: messages });
  }

  private act(name: string): void {
    this.calls.push(name);
    const err = this.failOnce.get(name);
    if (err) {
      this.failOnce.delete(name);
      throw err;
    }
  }

  async readQueue(): Promise<BrokerQueue | null> {
    this.act('readQueue');
    const q = this.queues.get(NAME);
    if (!q) return null;
    const base = { name: NAME, vhost: '/', durable: true, auto_delete: false, exclusive: false, node: 'rabbit@a', consumers: 0, message_bytes: 0 };
    return (q.type === 'quorum'
      ? { ...base, type: 'quorum', arguments: { 'x-queue-type': 'quorum' } }
      : {
          ...base,
          type: 'classic',
          arguments: {},
          policy: 'ha',
          effective_policy_definition: { 'ha-mode': 'all' },
          slave_nodes: ['rabbit@b'],
        }) as unknown as BrokerQueue;
  }
  async bindingsOf() {
    this.act('bindingsOf');
    return [];
  }
  async sampleExpirations() {
    this.act('sampleExpirations');
    return { sampled: 0, expirations: [], unreadable: 0 };
  }
  async count(queue: string) {
    return this.queues.get(queue)?.count ?? null;
  }
  async exists(queue: string) {
    return this.queues.has(queue);
  }
  async observe(): Promise<ObservedQueue> {
    this.act('observe');
    const main = this.queues.get(NAME);
    const temp = this.queues.get(TEMP);
    return {
      main: main ? (main.type === 'classic' ? 'source' : 'target') : 'absent',
      mainCount: main?.count ?? null,
      temporary: !!temp,
      temporaryCount: temp?.count ?? null,
    };
  }
  /** The replicas each declareTemporary asked for. */
  readonly replicas: Array<number | undefined> = [];
  async declareTemporary(replicas: number | undefined) {
    this.act('declareTemporary');
    this.replicas.push(replicas);
    if (!this.queues.has(TEMP)) this.queues.set(TEMP, { type: 'quorum', count: 0 });
  }
  async declareTarget() {
    this.act('declareTarget');
    const q = this.queues.get(NAME);
    if (q && q.type !== 'quorum') throw new Error('inequivalent arg x-queue-type');
    if (!q) this.queues.set(NAME, { type: 'quorum', count: 0 });
  }
  async deleteIfEmpty(queue: string) {
    this.act(`deleteIfEmpty ${queue}`);
    if ((this.queues.get(queue)?.count ?? 0) > 0) return false;
    this.queues.delete(queue);
    return true;
  }
  async deleteQueue(queue: string) {
    this.act(`deleteQueue ${queue}`);
    this.queues.delete(queue);
  }
  async bind(queue: string) {
    this.act(`bind ${queue}`);
  }
  async unbindTemporary() {
    this.act('unbindTemporary');
  }
  private transfer(source: string, destination: string): MoveResult {
    const from = this.queues.get(source)!;
    const into = this.queues.get(destination)!;
    const destinationBefore = into.count;
    into.count += from.count - (this.loses.get(destination) ?? 0);
    from.count = 0;
    return { sourceCount: 0, destinationCount: into.count, destinationBefore, rounds: 1, durationMs: 0 };
  }
  async move(r: MoveRequest): Promise<MoveResult> {
    this.act(`move ${r.direction}`);
    r.usingShovel(`shovel-${r.direction}`);
    const err = this.moveFails.get(r.destination);
    if (err) throw err;
    const result = this.transfer(r.source, r.destination);
    r.progress(result.destinationCount);
    return result;
  }
  async removeCopies(): Promise<SidecarMoveResult> {
    throw new Error('not used: clients are not fenced in these tests');
  }
  async moveBack(): Promise<MoveResult> {
    this.act('moveBack');
    return this.transfer(TEMP, NAME);
  }
  async removeShovels() {
    this.act('removeShovels');
    return 0;
  }
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;

function setup(messages: number, actions = new FakeActions(messages), runningNodes = 3) {
  const q: QueueRecord = plannedQueue(NAME, '/', messages, 'rabbit@a');
  const steps: QueueStep[] = [];
  const checkpoints: string[] = [];
  const migration = { id: 'm1', notes: [], engine: {} } as unknown as MigrationRecord;
  const env: QueueRunEnv = {
    ctx: { config: { migrationBrokerTimeoutMs: 0 } } as unknown as Context,
    mgmt: {} as QueueRunEnv['mgmt'],
    migration,
    tolerance: { underPercent: 0, overPercent: 0, allowShortfall: false },
    writer: {
      async checkpoint() {
        checkpoints.push(`${q.phase}@${q.location}`);
      },
      touch() {},
    },
    log: quiet,
    who: 'test',
    audit() {},
    shouldAbort: () => false,
    hooks: { beforeStep: ({ step }) => void steps.push(step) },
    preexistingTemporaryQueues: new Set(),
    runningNodes,
  };
  return { q, env, steps, checkpoints, actions };
}

const FULL_PATH: QueueStep[] = [
  'save',
  'declare_temporary',
  'move_to_temporary',
  'delete_classic',
  'declare_quorum',
  'move_to_quorum',
  'delete_temporary',
  'finish',
];

test('a queue with messages goes through every step in order and ends a verified quorum queue', async () => {
  const { q, env, steps, checkpoints, actions } = setup(10);
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.deepEqual(steps, FULL_PATH);
  assert.equal(q.status, 'completed');
  assert.equal(q.phase, 'done');
  assert.equal(q.location, 'quorum');
  assert.equal(q.migrated_messages, 10);
  assert.deepEqual(q.detail.verified_quorum, { expected: 10, actual: 10 });
  assert.equal(q.detail.shovel, undefined, 'no shovel named once the moves are done');
  assert.deepEqual([...actions.queues], [[NAME, { type: 'quorum', count: 10 }]]);
  // Checkpointed before each step that moves messages, where they are at that moment.
  assert.deepEqual(checkpoints, ['save@classic', 'move_to_temporary@classic', 'delete_classic@temporary', 'move_to_quorum@temporary', 'finish@quorum']);
});

test('the temporary queue gets a replica on each running node, up to three, whatever mirrors the classic queue had', async () => {
  // The fake classic queue has one mirror (two copies): a temporary queue of two replicas would stop when either node stops.
  for (const [running, replicas] of [
    [1, 1],
    [2, 2],
    [3, 3],
    [5, 3],
  ]) {
    const { q, env, actions } = setup(4, undefined, running);
    await new QueueMigrator(env, q, 0, actions).run(false);
    assert.equal(q.status, 'completed', q.error ?? '');
    assert.deepEqual(actions.replicas, [replicas], `${running} running node(s)`);
    assert.equal(q.detail.temporary_replicas, replicas);
  }
});

test('an empty queue takes the fast path: deleted if empty, declared again as quorum', async () => {
  const { q, env, steps, actions } = setup(0);
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.deepEqual(steps, ['save', 'empty_fast_path', 'declare_quorum', 'finish']);
  assert.equal(q.status, 'completed');
  assert.deepEqual([...actions.queues], [[NAME, { type: 'quorum', count: 0 }]]);
});

for (const crashAt of FULL_PATH.slice(1)) {
  test(`a run that stopped before ${crashAt} is resumed from the broker's state and completes`, async () => {
    const first = setup(7);
    first.env.hooks = {
      beforeStep: ({ step }) => {
        if (step === crashAt) throw new RunAbortedError('sidecar killed');
      },
    };
    await assert.rejects(new QueueMigrator(first.env, first.q, 0, first.actions).run(false), RunAbortedError);
    // A new owner resumes the same record against the same broker.
    const second = setup(7, first.actions);
    await new QueueMigrator(second.env, first.q, 0, first.actions).run(true);
    assert.equal(first.q.status, 'completed', first.q.error ?? '');
    assert.deepEqual([...first.actions.queues], [[NAME, { type: 'quorum', count: 7 }]]);
    assert.ok(first.actions.calls.includes('removeShovels'), "the dead owner's shovels are removed first");
  });
}

test('a count that does not verify fails the queue: shovels removed, the empty temporary queue deleted', async () => {
  const { q, env, actions } = setup(10);
  actions.loses.set(NAME, 1);
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.equal(q.status, 'failed');
  assert.match(q.error!, /quorum queue has 9 of 10 messages/);
  assert.equal(q.location, 'quorum');
  assert.ok(q.completed_at);
  const after = actions.calls.slice(actions.calls.lastIndexOf('move to-quorum') + 1);
  assert.deepEqual(after, ['removeShovels', 'observe', `deleteQueue ${TEMP}`]);
});

test("a failed move gathers the messages back under the queue's own name", async () => {
  const { q, env, actions } = setup(10);
  actions.moveFails.set(NAME, new Error('shovel refused'));
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.equal(q.status, 'failed');
  assert.equal(q.error, 'move to quorum failed: shovel refused');
  assert.equal(q.location, 'quorum');
  assert.deepEqual(q.detail.gathered_after_failure, { from: TEMP, into: NAME, count: 10 });
  assert.deepEqual([...actions.queues], [[NAME, { type: 'quorum', count: 10 }]]);
});

test('a transient outage is waited out and the queue carries on from what the broker shows', async () => {
  const { q, env, steps, actions } = setup(5);
  actions.failOnce.set('declareTarget', new BrokerUnavailableError('management API unreachable: ECONNREFUSED'));
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.equal(q.status, 'completed', q.error ?? '');
  // declare_quorum is redone after the broker's state was read again.
  assert.deepEqual(steps, [...FULL_PATH.slice(0, 5), 'declare_quorum', ...FULL_PATH.slice(5)]);
  const retry = actions.calls.indexOf('declareTarget');
  assert.deepEqual(actions.calls.slice(retry + 1, retry + 4), ['removeShovels', 'observe', 'declareTarget']);
  assert.deepEqual([...actions.queues], [[NAME, { type: 'quorum', count: 5 }]]);
});

test('a queue that is already quorum is skipped, nothing changed', async () => {
  const { q, env, actions } = setup(3);
  actions.queues.set(NAME, { type: 'quorum', count: 3 });
  await new QueueMigrator(env, q, 0, actions).run(false);
  assert.equal(q.status, 'skipped');
  assert.equal(q.error, 'already a quorum queue');
  assert.equal(q.phase, 'skipped');
});
