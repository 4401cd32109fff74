/**
 * /api/queue-migration/xfer — transfers of queues to another cluster.
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
 * tag; GET routes need monitoring or administrator (`requireReader`, overridable).
 * Errors are thrown as the typed domain errors; the app's error mapper answers them.
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Context } from '../context.js';
import { MethodNotAllowedError } from '../errors.js';
import { inScope, requireReader, type VhostScope } from '../http/auth.js';
import type { Caller } from '../migration/contract.js';
import { ObjectNotFoundError } from '../errors.js';
import { callerOf } from '../http/request-context.js';
import { parseJsonObject, rawBody } from '../http/request-validation.js';
import { TransferService } from './transfer-service.js';

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
      caller.tags.includes('administrator') ? { all: true } : { all: false, vhosts: new Set((await ctx.mgmt.userPermissions(caller.user)).map((p) => p.vhost)) });
  const router = Router({ strict: false, caseSensitive: true });

  router.post('/xfer', requireAdministrator, body, async (req: Request, res: Response) => {
    const parsed = parseJsonObject(req.body, req.get('content-type'));
    const started = await service.start(parsed, callerOf(res).user);
    res.status(202).json(started);
  });

  router.get('/xfer', requireReaderMw, async (_req: Request, res: Response) => {
    const scope = await scopeOf(callerOf(res));
    res.json({ transfers: (await service.list()).filter((x) => inScope(scope, x.vhost)) });
  });

  router.get('/xfer/:id', requireReaderMw, async (req: Request, res: Response) => {
    const record = await service.get(String(req.params.id));
    if (!inScope(await scopeOf(callerOf(res)), record.vhost)) throw new ObjectNotFoundError();
    res.json(record);
  });

  router.post('/xfer/:id/cancel', requireAdministrator, async (req: Request, res: Response) => {
    res.json(await service.cancel(String(req.params.id), callerOf(res).user));
  });

  // Known paths with another method: 405 with Allow, like the rest of the API.
  const methodNotAllowed = (allowed: string[]) => (_req: Request, _res: Response, next: NextFunction) => next(new MethodNotAllowedError(allowed));
  router.all('/xfer', methodNotAllowed(['GET', 'HEAD', 'POST']));
  router.all('/xfer/:id', methodNotAllowed(['GET', 'HEAD']));
  router.all('/xfer/:id/cancel', methodNotAllowed(['POST']));
  return router;
}
