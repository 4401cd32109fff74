/**
 * Cluster-wide locks made of exclusive queues: declaring an exclusive queue that another
 * connection already holds fails with 405 RESOURCE_LOCKED on every node, so exactly one sidecar
 * wins a race, and the lock frees itself when the holder's connection dies (sidecar killed).
 * Each lock has its own AMQP connection so that its lifetime is the holder's lifetime.
 */
import type { ChannelModel } from 'amqplib';
import { AMQP_RESOURCE_LOCKED, amqpCode, type AmqpPool } from '../broker/amqp.js';
import { logger } from '../logging.js';

export class LockHeldError extends Error {
  constructor(readonly lock: string) {
    super(`lock ${lock} is held by another connection`);
  }
}

export class ClusterLock {
  private lostListeners: Array<() => void> = [];
  private released = false;

  private constructor(
    readonly name: string,
    private readonly conn: ChannelModel,
  ) {
    conn.on('close', () => {
      if (this.released) return;
      logger.warn('cluster lock lost: its connection closed', { lock: name });
      for (const l of this.lostListeners) l();
    });
  }

  /** Takes the lock or throws LockHeldError. */
  static async acquire(pool: AmqpPool, vhost: string, name: string): Promise<ClusterLock> {
    const conn = await pool.openConnection(vhost, `lock ${name}`);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.assertQueue(name, { exclusive: true, durable: false, autoDelete: false });
      return new ClusterLock(name, conn);
    } catch (err) {
      await conn.close().catch(() => undefined);
      if (amqpCode(err) === AMQP_RESOURCE_LOCKED) throw new LockHeldError(name);
      throw err;
    }
  }

  /** True when some connection holds the lock (probe without taking it for long). */
  static async isHeld(pool: AmqpPool, vhost: string, name: string): Promise<boolean> {
    try {
      const lock = await ClusterLock.acquire(pool, vhost, name);
      await lock.release();
      return false;
    } catch (err) {
      if (err instanceof LockHeldError) return true;
      throw err;
    }
  }

  get held(): boolean {
    return !this.released;
  }

  onLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.conn.close().catch(() => undefined);
  }
}
