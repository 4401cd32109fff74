/**
 * GET /metrics — Prometheus text exposition (no authentication, like the broker's own
 * rabbitmq_prometheus endpoint: the series carry no vhost, queue or user names).
 *
 * Also `checkResultsObserver`: counts the system check results of every successful
 * POST /api/queue-migration/check/:vhost answer (one report, or one per vhost for `all`).
 */
import { Router, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import { exposition, recordCheckReport, type CheckReportLike } from './metrics.js';
import type { StateCollector } from './state-collector.js';

export function metricsRouter(state: StateCollector, extra: Registry[] = []): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const { contentType, body } = await exposition([state.registry, ...extra]);
    res.setHeader('Cache-Control', 'no-store');
    res.type(contentType).send(body);
  });
  return router;
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
