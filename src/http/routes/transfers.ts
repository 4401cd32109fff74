/**
 * /api/queue-migration/xfer — transfers of queues to another cluster (src/transfer).
 *
 *   POST /xfer              (administrator) start; 202 {"transfer_id","status":"started"}
 *   GET  /xfer              (monitoring or administrator) every transfer, newest first (a
 *                           non-administrator: only those of vhosts it has a permission on)
 *   GET  /xfer/:id          (monitoring or administrator) one transfer with its queues; 404 JSON
 *                           (also for a transfer of a vhost the caller has no permission on)
 *   POST /xfer/:id/cancel   (administrator) stop cleanly; idempotent; 200 {"transfer_id","status","cancel_requested"}
 *
 * Mount it (after authentication, which puts the caller in res.locals.caller) with:
 *   app.use('/api/queue-migration', authenticate, transferRouter(ctx, requireAdministrator))
 * `requireAdministrator` is the middleware that refuses (403) a caller without the administrator
 * tag; GET routes need monitoring or administrator (`requireReader`, overridable). Other paths
 * fall through; a known path with another method answers 405 with Allow, like the rest of the API.
 * Errors are thrown as the typed domain errors; the app's error mapper answers them.
 */
import type { RequestHandler, Router } from 'express';
import type { Context } from '../../context.js';
import { ObjectNotFoundError } from '../../errors.js';
import type { Caller } from '../../migration/contract.js';
import { TransferService } from '../../transfer/transfer-service.js';
import { inScope, requireReader, type VhostScope } from '../auth.js';
import { callerOf } from '../request-context.js';
import { parseJsonObject, rawBody } from '../request-validation.js';
import { routesFromTable, type RouteSpec } from './route-table.js';

export interface TransferRouterOptions {
  /** The service to use (default: a new one on ctx). */
  service?: TransferService;
  /** Read-route authorization (default: monitoring or administrator). */
  requireReaderMiddleware?: RequestHandler;
  /** The vhosts a caller may read transfers of (default: looked up on every read). */
  scopeOf?: (caller: Caller) => Promise<VhostScope>;
}

const readerDefault: RequestHandler = (_req, res, next) => {
  requireReader(callerOf(res));
  next();
};

export function transferRouter(ctx: Context, requireAdministrator: RequestHandler, options: TransferRouterOptions = {}): Router {
  const service = options.service ?? new TransferService(ctx);
  const requireReaderMw = options.requireReaderMiddleware ?? readerDefault;
  const body = rawBody(ctx.config.bodyLimit);
  const scopeOf =
    options.scopeOf ??
    (async (caller: Caller): Promise<VhostScope> =>
      caller.tags.includes('administrator')
        ? { all: true }
        : { all: false, vhosts: new Set((await ctx.mgmt.userPermissions(caller.user)).map((p) => p.vhost)) });

  const routes: RouteSpec[] = [
    {
      method: 'GET',
      path: '/xfer',
      before: [requireReaderMw],
      async handler(_req, res) {
        const scope = await scopeOf(callerOf(res));
        res.json({ transfers: (await service.list()).filter((x) => inScope(scope, x.vhost)) });
      },
    },
    {
      method: 'POST',
      path: '/xfer',
      before: [requireAdministrator, body],
      async handler(req, res) {
        const parsed = parseJsonObject(req.body, req.get('content-type'));
        const started = await service.start(parsed, callerOf(res).user);
        res.status(202).json(started);
      },
    },
    {
      method: 'GET',
      path: '/xfer/:id',
      before: [requireReaderMw],
      async handler(req, res) {
        const record = await service.get(String(req.params.id));
        if (!inScope(await scopeOf(callerOf(res)), record.vhost)) throw new ObjectNotFoundError();
        res.json(record);
      },
    },
    {
      method: 'POST',
      path: '/xfer/:id/cancel',
      before: [requireAdministrator],
      async handler(req, res) {
        res.json(await service.cancel(String(req.params.id), callerOf(res).user));
      },
    },
  ];
  return routesFromTable(routes);
}
