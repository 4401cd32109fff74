/**
 * GET /metrics — Prometheus text exposition (no authentication, like the broker's own
 * rabbitmq_prometheus endpoint: the series carry no vhost, queue or user names). The registries
 * come from src/metrics (startMetrics).
 *
 * Also `checkResultsObserver`: counts the system check results of every successful
 * POST /api/queue-migration/check/:vhost answer (one report, or one per vhost for `all`).
 */
import type { RequestHandler, Router } from 'express';
import type { Registry } from 'prom-client';
import { exposition, recordCheckReport, type CheckReportLike } from '../../metrics/metrics.js';
import { routesFromTable } from './route-table.js';

/** Other methods on /metrics fall through (to the proxy), as do other paths; paths are not case-sensitive. */
export function metricsRouter(registries: Registry[]): Router {
  return routesFromTable(
    [
      {
        method: 'GET',
        path: '/metrics',
        async handler(_req, res) {
          const { contentType, body } = await exposition(registries);
          res.setHeader('Cache-Control', 'no-store');
          res.type(contentType).send(body);
        },
      },
    ],
    { methodNotAllowed: false, router: {} },
  );
}

const CHECK_PATH = /^\/api\/queue-migration\/check\/[^/]+\/?$/;

export const checkResultsObserver: RequestHandler = (req, res, next) => {
  if (req.method !== 'POST' || !CHECK_PATH.test(req.path)) {
    next();
    return;
  }
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    if (res.statusCode === 200 && body && typeof body === 'object') {
      const b = body as CheckReportLike & { vhosts?: CheckReportLike[] };
      if (Array.isArray(b.vhosts)) for (const report of b.vhosts) recordCheckReport(report);
      else recordCheckReport(b);
    }
    return json(body);
  };
  next();
};
