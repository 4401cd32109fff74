/**
 * Endpoint discovery through the sidecar. Clients built on RabbitMQ's Java HTTP client (Hop) —
 * the plugin's own integration scenarios among them — find a cluster's HTTP endpoints in the
 * `listeners` of `GET /api/overview` (node name → host, listener port → port). Passed through
 * unchanged that answer names the brokers' management ports, and such a client goes around the
 * sidecar to a broker without the plugin. So, in the proxied overview, every node's management
 * listener (protocol `http` / `https`) is advertised as the sidecar's address instead:
 * QMIG_ADVERTISED_URL when set (a deployment behind a Service), else the scheme, host and port
 * the request came in on. Other listeners (amqp, prometheus, …) are left as they are.
 */
import type { IncomingMessage } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Request, Response } from 'express';
import type { Config } from '../config/config.js';

const OVERVIEW_PATH = '/api/overview';
const MANAGEMENT_PROTOCOLS = new Set(['http', 'https']);

export interface Advertised {
  protocol: 'http' | 'https';
  host: string;
  port: number;
}

interface Listener {
  node?: unknown;
  protocol?: unknown;
  ip_address?: unknown;
  port?: unknown;
  [k: string]: unknown;
}

/** The overview with each node's management listeners replaced by one for `to` (pure). */
export function advertiseListeners(overview: unknown, to: Advertised): unknown {
  if (!overview || typeof overview !== 'object' || !Array.isArray((overview as { listeners?: unknown }).listeners)) return overview;
  const listeners = (overview as { listeners: Listener[] }).listeners;
  const out: Listener[] = [];
  const advertisedFor = new Set<unknown>();
  for (const l of listeners) {
    if (!MANAGEMENT_PROTOCOLS.has(String(l?.protocol))) {
      out.push(l);
      continue;
    }
    if (advertisedFor.has(l.node)) continue; // http and https of one node become one entry
    advertisedFor.add(l.node);
    // socket_opts describe the broker's own socket (its ip and port): not the sidecar's.
    const { socket_opts: _brokerSocket, ...rest } = l;
    out.push({ ...rest, protocol: to.protocol, ip_address: to.host, port: to.port });
  }
  return { ...(overview as object), listeners: out };
}

/** Where this request reached the sidecar, or QMIG_ADVERTISED_URL. */
export function advertisedAddress(config: Pick<Config, 'advertisedUrl'>, req: Pick<Request, 'protocol' | 'headers'>): Advertised | null {
  let base = config.advertisedUrl;
  if (!base) {
    const host = req.headers.host;
    if (!host) return null;
    try {
      base = new URL(`${req.protocol}://${host}`);
    } catch {
      return null;
    }
  }
  const protocol = base.protocol === 'https:' ? 'https' : 'http';
  return { protocol, host: base.hostname.replace(/^\[|\]$/g, ''), port: Number(base.port || (protocol === 'https' ? 443 : 80)) };
}

function decoded(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      throw new Error(`unknown content-encoding ${encoding}`);
  }
}

export interface OverviewRewriter {
  /** Whether this upstream answer is a successful overview to rewrite. */
  applies(req: Request, upstream: IncomingMessage): boolean;
  /** Reads the upstream answer and sends the rewritten one (the original when it cannot be read). */
  send(req: Request, upstream: IncomingMessage, res: Response): void;
}

export function overviewRewriter(config: Pick<Config, 'advertisedUrl'>): OverviewRewriter {
  return {
    applies: (req, upstream) =>
      req.method === 'GET' && req.path === OVERVIEW_PATH && upstream.statusCode === 200 && /json/i.test(String(upstream.headers['content-type'] ?? '')),
    send: (req, upstream, res) => {
      const chunks: Buffer[] = [];
      upstream.on('data', (c: Buffer) => chunks.push(c));
      upstream.on('error', () => res.destroy());
      upstream.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: Buffer;
        try {
          const to = advertisedAddress(config, req);
          const plain = decoded(raw, upstream.headers['content-encoding'] as string | undefined);
          body = to ? Buffer.from(JSON.stringify(advertiseListeners(JSON.parse(plain.toString('utf8')), to)), 'utf8') : plain;
        } catch {
          // Not what an overview looks like: hand it on untouched.
          res
            .status(200)
            .set({
              'content-type': upstream.headers['content-type'] as string,
              ...(upstream.headers['content-encoding'] ? { 'content-encoding': upstream.headers['content-encoding'] as string } : {}),
            })
            .end(raw);
          return;
        }
        res.status(200).set({ 'content-type': 'application/json', 'cache-control': 'no-cache' }).end(body);
      });
    },
  };
}
