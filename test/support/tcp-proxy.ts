/**
 * A small TCP proxy on loopback, for fault tests: point a sidecar at it instead of the broker's
 * port, then make the broker "unreachable" for a while.
 *   pause('reset')     every open connection is reset and new ones are reset at once (a node
 *                      whose port is gone: ECONNRESET / socket hang up);
 *   pause('blackhole') nothing moves: open connections stall, new ones are accepted and left
 *                      waiting (a network partition: requests hang until their timeout);
 *   resume()           traffic flows again (held connections carry on where they stopped).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type PauseMode = 'reset' | 'blackhole';

export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:<port>` (for a management URL). */
  url: string;
  paused: PauseMode | null;
  /** Connections accepted so far. */
  accepted: number;
  pause(mode: PauseMode): void;
  resume(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  /** Connections accepted while blackholed: connected upstream on resume. */
  const waiting: Pair[] = [];
  let mode: PauseMode | null = null;
  let accepted = 0;

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  const reset = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream?.destroy();
  };

  const link = (pair: Pair) => {
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair));
    upstream.on('close', () => drop(pair));
    // A connection accepted while blackholed stays unpiped (resume() pipes it).
    if (mode !== 'blackhole') flow(pair);
  };
  const flow = (pair: Pair) => {
    pair.client.pipe(pair.upstream!);
    pair.upstream!.pipe(pair.client);
  };
  const hold = (pair: Pair) => {
    if (!pair.upstream) return;
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const pair: Pair = { client, upstream: null };
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    pairs.add(pair);
    if (mode === 'blackhole') {
      waiting.push(pair);
      return;
    }
    link(pair);
    client.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  const proxy: TcpProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    get paused() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    pause(m) {
      mode = m;
      for (const pair of [...pairs]) {
        if (m === 'reset') reset(pair);
        else hold(pair);
      }
      if (m === 'reset') waiting.length = 0;
    },
    resume() {
      const wasBlackhole = mode === 'blackhole';
      mode = null;
      if (!wasBlackhole) return;
      const held = waiting.splice(0);
      for (const pair of pairs) if (pair.upstream) flow(pair);
      for (const pair of held) {
        if (!pairs.has(pair)) continue;
        link(pair);
        pair.client.resume();
      }
    },
    async close() {
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
