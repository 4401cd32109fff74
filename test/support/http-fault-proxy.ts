/**
 * An HTTP proxy on loopback in front of a management API, for fault tests: it forwards every
 * request, except that the first `count` requests matching a rule are answered HTTP 500 with an
 * empty body — the way RabbitMQ 3.10 answers a shovel delete that collided with another one.
 * Faults alternate between the two ways a broker can fail such a call:
 *   'dropped'   the request never reaches the broker (the object is still there);
 *   'after'     the broker carries it out, then the client gets the 500 (the object is gone).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';

export interface FaultRule {
  method: string;
  /** Tested against the request path (URL-encoded as sent). */
  path: RegExp;
  /** How many matching requests get a 500. */
  count: number;
}

export interface Fault {
  method: string;
  path: string;
  mode: 'dropped' | 'after';
}

export interface HttpFaultProxy {
  url: string;
  /** Faults injected so far, in order. */
  faults: Fault[];
  close(): Promise<void>;
}

export async function startHttpFaultProxy(target: string, rules: FaultRule[]): Promise<HttpFaultProxy> {
  const upstream = new URL(target);
  const left = rules.map((r) => r.count);
  const faults: Fault[] = [];

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = (req.url ?? '').split('?')[0];
      const rule = rules.findIndex((r, i) => left[i] > 0 && r.method === req.method && r.path.test(path));
      try {
        if (rule >= 0) {
          left[rule]--;
          const mode = faults.length % 2 === 0 ? 'dropped' : 'after';
          faults.push({ method: req.method!, path, mode });
          if (mode === 'after') await forward(req, Buffer.concat(chunks));
          res.writeHead(500, { 'content-length': '0' }).end();
          return;
        }
        const answer = await forward(req, Buffer.concat(chunks));
        const headers = { ...answer.headers };
        delete headers['transfer-encoding'];
        headers['content-length'] = String(answer.body.length);
        res.writeHead(answer.status, headers).end(answer.body);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
