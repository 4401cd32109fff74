/**
 * The sidecar's HTTP surface, in order:
 *   1. request id + one access log line per request (every path);
 *   2. routes served by qmig itself: /healthz (no auth) and /api/queue-migration/* (auth);
 *      - `routesBeforeApi`: routers with their own paths and auth that must win over the
 *        /api/queue-migration fallback (e.g. the peer snapshot routes);
 *      - `apiRouters`: more routers under /api/queue-migration, behind its authentication
 *        (e.g. the transfer routes);
 *      - `localRoutes`: further local routes outside it (e.g. /metrics, an /api/extensions
 *        override), mounted before the proxy;
 *   3. everything else is reverse-proxied, streamed, to the management listener;
 *   4. the error mapper (the one place errors become HTTP answers).
 */
import express, { type Express, type Router } from 'express';
import type { Context } from '../context.js';
import type { MigrationEngine } from '../migration/contract.js';
import { MigrationReader } from '../state/migration-reader.js';
import { Authenticator } from './auth.js';
import { errorMapper } from './error-mapper.js';
import { BrokerHealth, healthzHandler } from './health.js';
import { managementProxy, type ManagementProxy } from './proxy.js';
import { rejectBadSegments } from './path-segments.js';
import { requestContext } from './request-context.js';
import { queueMigrationRouter } from './routes/queue-migration.js';

export const API_PREFIX = '/api/queue-migration';

/** Mounts local routes on the app before the proxy (so they win over it). */
export type LocalRoutes = (app: Express, deps: AppDeps) => void;

export interface AppDeps {
  ctx: Context;
  engine: MigrationEngine;
  reader: MigrationReader;
  auth: Authenticator;
  health: BrokerHealth;
  proxy: ManagementProxy;
}

export interface AppOptions {
  engine: MigrationEngine;
  reader?: MigrationReader;
  /** Mounted before the /api/queue-migration router (they see every path first). */
  routesBeforeApi?: LocalRoutes[];
  /** Routers mounted inside /api/queue-migration after authentication (paths relative to it). */
  apiRouters?: Array<(deps: AppDeps) => Router>;
  /** Extra local routes, mounted after qmig's own and before the proxy. */
  localRoutes?: LocalRoutes[];
}

export function createApp(ctx: Context, options: AppOptions): { app: Express; deps: AppDeps } {
  const deps: AppDeps = {
    ctx,
    engine: options.engine,
    reader: options.reader ?? new MigrationReader(ctx),
    auth: new Authenticator(ctx),
    health: new BrokerHealth(ctx),
    proxy: managementProxy(ctx.config),
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestContext);
  app.get('/healthz', healthzHandler(deps.health));
  // `.`, `..` and empty segments: 400 before any route (and any broker call) sees them.
  app.use(API_PREFIX, rejectBadSegments);
  for (const mount of options.routesBeforeApi ?? []) mount(app, deps);
  app.use(API_PREFIX, queueMigrationRouter({ ...deps, extensions: (options.apiRouters ?? []).map((make) => make(deps)) }));
  for (const mount of options.localRoutes ?? []) mount(app, deps);
  app.use(deps.proxy);
  app.use(errorMapper);
  return { app, deps };
}
