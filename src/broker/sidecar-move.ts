/**
 * Moving a queue's messages into another queue with the sidecar's own AMQP channels, optionally
 * taking out the copies a broker failure made. Used where a dynamic shovel does not fit:
 *
 * - small queues: a shovel's set-up and removal (a replicated runtime parameter, a supervised
 *   worker with two connections) costs the broker more than moving a few hundred messages;
 * - copy removal: shovels are at-least-once; when a node stops during a move, deliveries whose
 *   acknowledgement was lost (a mirrored queue's promoted mirror never heard of it) come back and
 *   are shovelled a second time. The engine knows how many surplus messages that made (clients
 *   are fenced, the count before the move is exact), not which ones.
 *
 * The source is read in order with manual acknowledgements; every message is published to the
 * destination on a confirm channel and acknowledged in the source only once its copy is confirmed
 * (runs of confirmed messages with one multiple ack: source-acks.ts),
 * so a failure at any point loses nothing (at worst a message is in both queues, which copy
 * removal takes out later). Messages that expire in the source (per-message or queue TTL) never
 * come: when nothing has arrived for SETTLE_MS and the source holds no ready message, the source
 * is drained — as a shovel move ends (shovels.ts); a delivery still in flight then is not
 * forwarded, goes back to the source when the channel closes, and the caller's next round (or
 * count check) sees it. With `surplus` > 0 each message whose fingerprint — body, properties
 * and headers, as the shovel copied them — was already seen is held back; when the source is
 * drained and exactly `surplus` messages are held, every one is a copy and is dropped; otherwise
 * (messages that were identical before the move, or a surplus that copies do not explain)
 * nothing is dropped: the held messages are forwarded as well (a little out of order) and the
 * caller's count check judges the surplus.
 */
import { createHash } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpPool } from './amqp.js';
import { canonical } from './canonical-json.js';
import { confirmedCount } from './confirmed-count.js';
import { SourceAcks } from './source-acks.js';

export interface SidecarMoveSpec {
  vhost: string;
  source: string;
  destination: string;
  /** Copies to take out: messages more than the source should hold (0: move everything). */
  surplus: number;
  /** Longest wait for the next message while the source is not drained. */
  idleTimeoutMs: number;
  /** Called with the messages forwarded so far. */
  onProgress?: (forwarded: number) => void;
  /**
   * The user the sidecar publishes as: a message whose user-id names someone else would make the
   * broker close the publishing channel (only a shovel can move it), so the move stops before it.
   */
  publisherUser: string;
}

export interface SidecarMoveResult {
  /** Messages read from the source. */
  read: number;
  /** Messages forwarded to the destination. */
  forwarded: number;
  /** Of those, messages carrying a per-message TTL (`expiration`). */
  forwardedWithExpiration: number;
  /** Copies dropped (0 or `surplus`). */
  removed: number;
  /** Messages held back as possible copies (more or fewer than `surplus` means none was dropped). */
  candidates: number;
  /** Why the move stopped before the source was drained (the rest stays there), or null. */
  stopped: string | null;
}

/** How long no delivery may come, with the source holding no ready message, before it is taken as drained. */
const SETTLE_MS = 1500;

/** Headers a queue adds on redelivery: not part of what was published. */
const BROKER_HEADERS = ['x-delivery-count'];

/** Publish options that reproduce a delivered message's properties. */
export function republishOptions(msg: Pick<ConsumeMessage, 'properties'>): Options.Publish {
  const p = msg.properties;
  const headers = { ...(p.headers ?? {}) };
  for (const h of BROKER_HEADERS) delete headers[h];
  const out: Options.Publish = { headers };
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding;
  if (p.deliveryMode !== undefined) out.deliveryMode = p.deliveryMode;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.correlationId !== undefined) out.correlationId = p.correlationId;
  if (p.replyTo !== undefined) out.replyTo = p.replyTo;
  if (p.expiration !== undefined) out.expiration = p.expiration;
  if (p.messageId !== undefined) out.messageId = p.messageId;
  if (p.timestamp !== undefined) out.timestamp = p.timestamp;
  if (p.type !== undefined) out.type = p.type;
  if (p.userId !== undefined) out.userId = p.userId;
  if (p.appId !== undefined) out.appId = p.appId;
  return out;
}

/** Identity of a message as published: two shovelled copies of one message have the same one. */
export function messageFingerprint(msg: Pick<ConsumeMessage, 'content' | 'properties'>): string {
  return createHash('sha256')
    .update(msg.content)
    .update('\0')
    .update(JSON.stringify(canonical(republishOptions(msg))))
    .digest('base64');
}

/**
 * Which held-back messages to drop: all of them when they are exactly the surplus, else none
 * (pure: the decision the mover takes once the source is drained).
 */
export function copiesToDrop(candidates: number, surplus: number): number {
  return surplus > 0 && candidates === surplus ? candidates : 0;
}

/**
 * Moves the messages `source` holds when the move starts. Channels of the shared connection are
 * used and closed at the end (closing hands back anything not yet acknowledged).
 */
export async function moveThroughSidecar(amqp: AmqpPool, spec: SidecarMoveSpec): Promise<SidecarMoveResult> {
  const conn = await amqp.connection(spec.vhost);
  const sub = await conn.createChannel();
  // A refused operation closes the channel with an 'error' event: reported through `failure`.
  sub.on('error', () => undefined);
  let pub: ConfirmChannel | null = null;
  let acks: SourceAcks | null = null;
  try {
    pub = await conn.createConfirmChannel();
    pub.on('error', () => undefined);
    const publisher = pub;
    const failure = new Promise<never>((_, reject) => {
      const fail = (what: string) => (err?: Error) =>
        reject(new Error(`moving '${spec.source}' to '${spec.destination}': ${what} closed${err ? `: ${err.message}` : ''}`));
      sub.once('error', fail('consumer channel'));
      sub.once('close', fail('consumer channel'));
      publisher.once('error', fail('publisher channel'));
      publisher.once('close', fail('publisher channel'));
    });
    failure.catch(() => undefined);
    const total = (await confirmedCount(async () => (await sub.checkQueue(spec.source)).messageCount)) ?? 0;
    const result: SidecarMoveResult = { read: 0, forwarded: 0, forwardedWithExpiration: 0, removed: 0, candidates: 0, stopped: null };
    if (total === 0) return result;
    // Held copies keep their prefetch slots: leave room for them and for a flowing window.
    await sub.prefetch(Math.min(spec.surplus + 2000, 65535));
    await publisher.checkQueue(spec.destination);

    let acked = 0;
    // Held-back copies are forwarded out of delivery order: single acks then (source-acks.ts).
    acks = new SourceAcks(sub, spec.surplus > 0);
    const sourceAcks = acks;
    const seen = new Set<string>();
    const held: ConsumeMessage[] = [];
    let holding = spec.surplus > 0;
    const forward = (msg: ConsumeMessage) => {
      result.forwarded++;
      if (msg.properties.expiration !== undefined) result.forwardedWithExpiration++;
      sourceAcks.forwarded(msg);
      publisher.publish('', spec.destination, msg.content, republishOptions(msg), (err) => {
        if (err) return sourceAcks.refused();
        sourceAcks.confirmed(msg);
        acked++;
        spec.onProgress?.(acked);
      });
    };
    let drained!: () => void;
    const allRead = new Promise<void>((resolve) => (drained = resolve));
    let lastDelivery = Date.now();
    let settled = false;
    let probing = false;
    const { consumerTag } = await sub.consume(
      spec.source,
      (msg) => {
        if (!msg) return; // cancelled by the broker: the failure promise or the idle timer reports it
        if (result.stopped || settled) return; // not acknowledged: handed back to the source when the channel closes
        lastDelivery = Date.now();
        const userId = msg.properties.userId as string | undefined;
        if (userId !== undefined && userId !== spec.publisherUser) {
          result.stopped = `a message carries user-id '${userId}', which the sidecar (publishing as '${spec.publisherUser}') may not set`;
          drained();
          return;
        }
        result.read++;
        if (!holding) {
          forward(msg);
        } else {
          const fp = messageFingerprint(msg);
          if (!seen.has(fp)) {
            seen.add(fp);
            forward(msg);
          } else {
            held.push(msg);
            if (held.length > spec.surplus) {
              // More repeats than surplus: the queue held identical messages before. Drop nothing.
              holding = false;
              seen.clear();
              for (const h of held.splice(0)) forward(h);
              result.candidates = spec.surplus + 1;
            }
          }
        }
        if (result.read === total) drained();
      },
      { noAck: false },
    );

    const idle = new Promise<never>((_, reject) => {
      const timer = setInterval(() => {
        if (!probing && !settled && Date.now() - lastDelivery > SETTLE_MS) {
          // Fewer messages than counted at the start: some may have expired. Drained when the
          // source holds no ready message and still nothing came.
          probing = true;
          void confirmedCount(async () => (await sub.checkQueue(spec.source)).messageCount)
            .then((ready) => {
              if (ready === 0 && Date.now() - lastDelivery > SETTLE_MS && !settled) {
                settled = true;
                drained();
              }
            })
            .catch(() => undefined) // a closed channel is reported through `failure`
            .finally(() => (probing = false));
        }
        if (Date.now() - lastDelivery > spec.idleTimeoutMs) {
          clearInterval(timer);
          reject(
            new Error(
              `moving '${spec.source}' to '${spec.destination}': no message for ${Math.round(spec.idleTimeoutMs / 1000)} s with ${total - result.read} of ${total} still to read`,
            ),
          );
        }
      }, 250);
      void allRead.then(() => clearInterval(timer));
      failure.catch(() => clearInterval(timer));
    });
    idle.catch(() => undefined);
    await Promise.race([allRead, failure, idle]);
    if (holding) result.candidates = held.length;
    // A move that stopped early has not seen every message: nothing can be known to be a copy.
    const drop = result.stopped ? 0 : copiesToDrop(holding ? held.length : result.candidates, spec.surplus);
    if (holding && drop > 0) {
      await Promise.race([publisher.waitForConfirms(), failure]);
      sourceAcks.flush();
      for (const h of held) sub.ack(h);
      result.removed = drop;
    } else {
      for (const h of held.splice(0)) forward(h);
    }
    await Promise.race([publisher.waitForConfirms(), failure]);
    sourceAcks.flush();
    // Acknowledgements are asynchronous: a round trip on the consumer channel flushes them. Only
    // then is the consumer cancelled — a quorum queue hands a cancelled consumer's unsettled
    // messages back, and acknowledgements that arrive after that are void.
    await sub.checkQueue(spec.source);
    await sub.cancel(consumerTag);
    return result;
  } finally {
    // What was confirmed stays moved: its acknowledgement goes out if the channel still can;
    // confirms that come later are not acknowledged (the source hands those messages back).
    acks?.close();
    sub.removeAllListeners('close');
    pub?.removeAllListeners('close');
    await sub.close().catch(() => undefined);
    await pub?.close().catch(() => undefined);
  }
}
