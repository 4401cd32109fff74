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
 * Mount it after authentication, with the same administrator gate the transfer routes use:
 *   app.use('/api/queue-migration', authenticate, blueGreenRouter(ctx, requireAdministrator))
 * A known path with another method answers 405 with Allow, like the rest of the API.
 */
import type { RequestHandler, Router } from 'express';
import type { Context } from '../../context.js';
import { applyReason, blueGreenRequest, type BlueGreenDefinitionsBody, type BlueGreenPlanBody } from '../../bluegreen/bluegreen-request.js';
import { BlueGreenService } from '../../bluegreen/bluegreen-service.js';
import { callerOf } from '../request-context.js';
import { parseJsonObject, rawBody, validateBody } from '../request-validation.js';
import { routesFromTable, type RouteSpec } from './route-table.js';

export interface BlueGreenRouterOptions {
  /** The service to use (default: a new one on ctx). */
  service?: BlueGreenService;
}

export function blueGreenRouter(ctx: Context, requireAdministrator: RequestHandler, options: BlueGreenRouterOptions = {}): Router {
  const service = options.service ?? new BlueGreenService(ctx);
  const body = rawBody(ctx.config.bodyLimit);
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
  ];
  return routesFromTable(routes);
}
