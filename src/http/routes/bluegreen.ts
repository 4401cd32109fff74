/**
 * /api/queue-migration/bluegreen — blue-green moves of a vhost to another cluster (src/bluegreen).
 * Item 1, definitions first:
 *
 *   POST /bluegreen/plan/:vhost         (administrator) the plan: the source vhost's definitions
 *                                       transformed (mirrored classic → quorum, mirroring keys
 *                                       stripped), the not-transferable list and the per-object
 *                                       diff against the target (create / same / conflict) with
 *                                       counts; writes nothing. Body: schemas/bluegreen-plan-request.json
 *   POST /bluegreen/definitions/:vhost  (administrator) apply it: 409 definitions_conflict (nothing
 *                                       written) on any conflict, else the vhost created on the
 *                                       target if absent and only the `create` objects declared;
 *                                       audited with the body's reason. Body: schemas/bluegreen-definitions-request.json
 *
 * Items 2, 4, 5, the drain (src/bluegreen/drain-service.ts), all administrator only:
 *   POST /bluegreen/start/:vhost   202 {drain_id, status: draining}: definitions applied, one
 *                                  continuous shovel per queue. Body: schemas/bluegreen-start-request.json
 *   GET  /bluegreen/status         every drain (schemas/bluegreen-list-response.json)
 *   GET  /bluegreen/status/:id     one drain, live figures of both brokers (schemas/bluegreen-status-response.json)
 *   POST /bluegreen/cutover/:id    202 {drain_id, status: cutting_over}; it completes by itself once
 *                                  every source queue stayed idle idle_seconds. Body: {} (bluegreen-empty-request.json)
 *   POST /bluegreen/cancel/:id     200 {drain_id, status} once the shovels are stopped. Body: {}
 *
 * Mount it after authentication, with the same administrator gate the transfer routes use:
 *   app.use('/api/queue-migration', authenticate, blueGreenRouter(ctx, requireAdministrator))
 * A known path with another method answers 405 with Allow, like the rest of the API.
 */
import type { RequestHandler, Router } from 'express';
import type { Context } from '../../context.js';
import {
  applyReason,
  blueGreenRequest,
  drainOptions,
  type BlueGreenDefinitionsBody,
  type BlueGreenPlanBody,
  type DrainStartBody,
} from '../../bluegreen/bluegreen-request.js';
import { BlueGreenService } from '../../bluegreen/bluegreen-service.js';
import { DrainService } from '../../bluegreen/drain-service.js';
import { callerOf } from '../request-context.js';
import { parseJsonObject, rawBody, validateBody } from '../request-validation.js';
import { routesFromTable, type RouteSpec } from './route-table.js';

export interface BlueGreenRouterOptions {
  /** The service to use (default: a new one on ctx). */
  service?: BlueGreenService;
  /** The drain service (default: a new one on ctx and the blue-green service). */
  drains?: DrainService;
}

export function blueGreenRouter(ctx: Context, requireAdministrator: RequestHandler, options: BlueGreenRouterOptions = {}): Router {
  const service = options.service ?? new BlueGreenService(ctx);
  const drains = options.drains ?? new DrainService(ctx, service);
  const body = rawBody(ctx.config.bodyLimit);
  const emptyBody = (req: Parameters<RequestHandler>[0]) => validateBody('bluegreen-empty-request', parseJsonObject(req.body, req.get('content-type')));
  const routes: RouteSpec[] = [
    {
      method: 'POST',
      path: '/bluegreen/plan/:vhost',
      before: [requireAdministrator, body],
      async handler(req, res) {
        const b = validateBody<BlueGreenPlanBody>('bluegreen-plan-request', parseJsonObject(req.body, req.get('content-type')));
        res.json(await service.plan(blueGreenRequest(String(req.params.vhost), b)));
      },
    },
    {
      method: 'POST',
      path: '/bluegreen/definitions/:vhost',
      before: [requireAdministrator, body],
      async handler(req, res) {
        const b = validateBody<BlueGreenDefinitionsBody>('bluegreen-definitions-request', parseJsonObject(req.body, req.get('content-type')));
        const request = blueGreenRequest(String(req.params.vhost), b);
        res.json(await service.applyDefinitions(request, applyReason(b), callerOf(res).user));
      },
    },
    {
      method: 'POST',
      path: '/bluegreen/start/:vhost',
      before: [requireAdministrator, body],
      async handler(req, res) {
        const b = validateBody<DrainStartBody>('bluegreen-start-request', parseJsonObject(req.body, req.get('content-type')));
        const request = blueGreenRequest(String(req.params.vhost), b);
        res.status(202).json(await drains.start(request, drainOptions(b), callerOf(res).user));
      },
    },
    {
      method: 'GET',
      path: '/bluegreen/status',
      before: [requireAdministrator],
      async handler(_req, res) {
        res.json(await drains.list());
      },
    },
    {
      method: 'GET',
      path: '/bluegreen/status/:id',
      before: [requireAdministrator],
      async handler(req, res) {
        res.json(await drains.status(String(req.params.id)));
      },
    },
    {
      method: 'POST',
      path: '/bluegreen/cutover/:id',
      before: [requireAdministrator, body],
      async handler(req, res) {
        emptyBody(req);
        res.status(202).json(await drains.cutover(String(req.params.id), callerOf(res).user));
      },
    },
    {
      method: 'POST',
      path: '/bluegreen/cancel/:id',
      before: [requireAdministrator, body],
      async handler(req, res) {
        emptyBody(req);
        res.json(await drains.cancel(String(req.params.id), callerOf(res).user));
      },
    },
  ];
  return routesFromTable(routes);
}
