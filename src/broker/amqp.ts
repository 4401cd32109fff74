/**
 * AMQP 0-9-1 access for the sidecar's service account (amqplib). Connections are per vhost and
 * cached; every operation runs on a fresh channel because a refused operation (404, 405, 406)
 * closes its channel. Used for exact message counts (passive declare) and for the cluster-wide
 * locks (exclusive queues, see src/state/cluster-lock.ts).
 */
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { BrokerUnavailableError } from '../errors.js';
import { confirmedCount, type TimedCount } from './confirmed-count.js';
import { logger } from '../logging.js';
import { clientTlsOptions, type ClientTlsFiles } from './tls-options.js';

/** For an amqps url: CA, client certificate (mutual TLS) and verification, see tls-options.ts. */
export interface AmqpOptions extends ClientTlsFiles {
  url: URL | string;
  user: string;
  password: string;
  connectionName?: string;
}

/** AMQP reply codes that amqplib puts on `err.code`. */
export const AMQP_NOT_FOUND = 404;
export const AMQP_RESOURCE_LOCKED = 405;
export const AMQP_PRECONDITION_FAILED = 406;
export const AMQP_ACCESS_REFUSED = 403;

export function amqpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export class AmqpPool {
  private readonly connections = new Map<string, Promise<ChannelModel>>();
  private readonly countChannels = new Map<string, Promise<Channel>>();
  private readonly countTurns = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly options: AmqpOptions) {}

  /** A new connection to `vhost`, not cached: the caller owns it (locks use this). */
  async openConnection(vhost: string, purpose: string): Promise<ChannelModel> {
    const base = new URL(String(this.options.url));
    base.username = encodeURIComponent(this.options.user);
    base.password = encodeURIComponent(this.options.password);
    base.pathname = '/' + encodeURIComponent(vhost);
    base.searchParams.set('heartbeat', '10');
    try {
      const conn = await amqp.connect(base.toString(), {
        ...clientTlsOptions(this.options),
        clientProperties: { connection_name: `${this.options.connectionName ?? 'qmig'} ${purpose}` },
        timeout: 10000,
      });
      conn.on('error', (err) => logger.debug('amqp connection error', { vhost, purpose, error: err.message }));
      return conn;
    } catch (err) {
      const code = amqpCode(err);
      if (code === AMQP_ACCESS_REFUSED || /ACCESS_REFUSED|access to vhost/i.test(String((err as Error).message))) throw err;
      throw new BrokerUnavailableError(`AMQP connection to vhost '${vhost}' failed: ${(err as Error).message}`);
    }
  }

  /** The shared connection for `vhost`. */
  connection(vhost: string): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new BrokerUnavailableError('AMQP pool is closed'));
    let conn = this.connections.get(vhost);
    if (!conn) {
      conn = this.openConnection(vhost, 'shared').then((c) => {
        c.on('close', () => this.connections.delete(vhost));
        return c;
      });
      conn.catch(() => this.connections.delete(vhost));
      this.connections.set(vhost, conn);
    }
    return conn;
  }

  /** Runs `fn` on a fresh channel of the shared connection to `vhost`, then closes the channel. */
  async withChannel<T>(vhost: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const conn = await this.connection(vhost);
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a refused operation closes the channel; fn sees the rejection
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /**
   * Exact count of ready messages (passive declare), or null when the queue does not exist.
   * Counts share one channel per vhost: a migration counts a queue a dozen times, and opening a
   * channel for each costs the broker a channel process and its statistics. A declare of a
   * missing queue closes that channel (404); calls queued behind it then fail with "channel
   * closed" and are asked again on a new channel.
   */
  async messageCount(vhost: string, queue: string): Promise<number | null> {
    // A busy quorum leader reads as 0 on 3.10: a zero is confirmed (confirmed-count.ts).
    return confirmedCount(() => this.readCount(vhost, queue));
  }

  /** One passive declare, timed from when it is sent (reads of a vhost take turns, see TimedCount). */
  private async readCount(vhost: string, queue: string): Promise<TimedCount> {
    for (let attempt = 1; ; attempt++) {
      const opening = this.countChannel(vhost);
      try {
        const ch = await opening;
        return await this.countTurn(vhost, async () => {
          const sent = Date.now();
          const { messageCount } = await ch.checkQueue(queue);
          return { count: messageCount, ms: Date.now() - sent };
        });
      } catch (err) {
        if (this.countChannels.get(vhost) === opening) this.countChannels.delete(vhost);
        // 404 also answers a durable queue whose home node is down or still booting ("home node …
        // is down or inaccessible"): that queue exists (a whole-cluster restart), the error stays.
        if (amqpCode(err) === AMQP_NOT_FOUND && !isHomeNodeDown(err)) return { count: null, ms: 0 };
        if (attempt >= 3 || amqpCode(err) !== undefined) throw err;
      }
    }
  }

  /**
   * Runs `fn` when the reads of `vhost` queued before it have been answered: the channel would
   * queue them anyway, and so each read's clock starts when its request actually goes out.
   */
  private async countTurn<T>(vhost: string, fn: () => Promise<T>): Promise<T> {
    const before = this.countTurns.get(vhost) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = before.then(() => mine);
    this.countTurns.set(vhost, tail);
    try {
      await before;
      return await fn();
    } finally {
      done();
      if (this.countTurns.get(vhost) === tail) this.countTurns.delete(vhost);
    }
  }

  private countChannel(vhost: string): Promise<Channel> {
    let ch = this.countChannels.get(vhost);
    if (!ch) {
      const opening = this.connection(vhost).then(async (conn) => {
        const c = await conn.createChannel();
        c.on('error', () => undefined);
        c.on('close', () => {
          if (this.countChannels.get(vhost) === opening) this.countChannels.delete(vhost);
        });
        return c;
      });
      opening.catch(() => {
        if (this.countChannels.get(vhost) === opening) this.countChannels.delete(vhost);
      });
      this.countChannels.set(vhost, opening);
      ch = opening;
    }
    return ch;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.countChannels.clear();
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}

/** A NOT_FOUND that names a durable queue whose home node is down or inaccessible (it exists). */
export function isHomeNodeDown(err: unknown): boolean {
  return /down or inaccessible/i.test((err as Error)?.message ?? '');
}
