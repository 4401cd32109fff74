/**
 * Peer sidecars for snapshot tests: a sidecar Context for node i of the test cluster serving only
 * the peer snapshot route (with the app's error mapper), on a random local port, closed after
 * the test.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Context } from '../../src/context.js';
import { errorMapper } from '../../src/http/error-mapper.js';
import { peerSnapshotRouter } from '../../src/http/routes/peer-snapshots.js';
import { sidecarContext } from './checks-context.js';

export interface PeerSidecar {
  ctx: Context;
  url: string;
}

export async function startPeerSidecar(t: { after(fn: () => unknown): void }, node: number, overrides: Record<string, string>): Promise<PeerSidecar> {
  const ctx = sidecarContext(t, overrides, node);
  const app = express();
  app.use(peerSnapshotRouter(ctx));
  app.use(errorMapper);
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { ctx, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
