/**
 * The activities of one queue's migration: every broker action the step graph (queue-graph.ts)
 * and the queue runner take, and nothing else. The workflow decides; these act. Implemented
 * against the broker by BrokerQueueActions (broker-queue-actions.ts); the unit tests fake them in
 * memory (queue-runner.test.ts). A new phase that needs a new kind of broker action adds one
 * method here and its implementation there.
 *
 * Names: `queue` is the queue's own name, `temporary` its temporary queue; actions on other
 * queues take the name.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { MoveDirection } from '../broker/names.js';
import type { ExpirationSample } from '../broker/message-sample.js';
import type { MoveResult } from '../broker/shovels.js';
import type { SidecarMoveResult } from '../broker/sidecar-move.js';
import type { OriginalQueue } from '../state/records.js';
import type { ObservedQueue } from './resume.js';

export interface MoveRequest {
  source: string;
  destination: string;
  direction: MoveDirection;
  /** Messages moved so far (progress, both the sidecar's and a shovel's). */
  progress(moved: number): void;
  /** A shovel takes over the move (the sidecar could not, or there were too many messages). */
  usingShovel(name: string): void;
}

export interface QueueActions {
  /** The queue as the management API shows it, with its statistics (null: it does not exist). */
  readQueue(): Promise<BrokerQueue | null>;
  /** The queue's bindings from exchanges, as saved in the original. */
  bindingsOf(queue: string): Promise<OriginalQueue['bindings']>;
  /** The per-message TTLs of the queue's first `count` messages, handed back in place (src/broker/message-sample.ts). */
  sampleExpirations(count: number): Promise<ExpirationSample>;
  /** Exact number of messages (a passive declare); null when the queue does not exist. */
  count(queue: string): Promise<number | null>;
  exists(queue: string): Promise<boolean>;
  /** The queue under its own name and the temporary queue, with exact counts. */
  observe(): Promise<ObservedQueue>;
  declareTemporary(replicas: number | undefined, node: string | null): Promise<void>;
  /** Declares the queue that replaces the original under its name (quorum; classic in a rollback: `args` say). */
  declareTarget(args: Record<string, unknown>, node: string | null, autoDelete?: boolean): Promise<void>;
  /** Deletes the queue only when it holds nothing; false when it was not empty. */
  deleteIfEmpty(queue: string): Promise<boolean>;
  deleteQueue(queue: string): Promise<void>;
  bind(queue: string, bindings: OriginalQueue['bindings']): Promise<void>;
  /** Takes the temporary queue's bindings from exchanges away (each one audited). */
  unbindTemporary(): Promise<void>;
  /** Moves every message from source to destination (the sidecar itself, or a shovel). */
  move(request: MoveRequest): Promise<MoveResult>;
  /** Moves source into destination leaving out `surplus` copies (src/broker/sidecar-move.ts). */
  removeCopies(source: string, destination: string, surplus: number): Promise<SidecarMoveResult>;
  /** After a failure: unbinds the temporary queue and moves its messages back under the queue's own name. */
  moveBack(): Promise<MoveResult>;
  /** Deletes this queue's shovels (a dead owner's or a late one); how many there were. */
  removeShovels(): Promise<number>;
}
