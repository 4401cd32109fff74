/**
 * A router built from a table of routes, so that the 404/405 answers know every route:
 * a known path with another method → 405 with `Allow`; an unknown path → 404 JSON.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { MethodNotAllowedError, RouteNotFoundError } from '../../errors.js';

export type Method = 'GET' | 'POST';

export interface RouteSpec {
  method: Method;
  /** Express path relative to the router's mount point, e.g. `/status/:id`. */
  path: string;
  /** Middlewares run before the handler (body reading, …). */
  before?: RequestHandler[];
  handler: (req: Request, res: Response) => Promise<void>;
}

/**
 * `prelude` runs before every route (authentication); `extensions` are further routers tried
 * after the table's routes and before the 404 fallback.
 */
export function routerFromTable(routes: RouteSpec[], prelude: RequestHandler[] = [], extensions: Router[] = []): Router {
  const router = Router({ strict: false, caseSensitive: true });
  for (const mw of prelude) router.use(mw);
  const byPath = new Map<string, RouteSpec[]>();
  for (const r of routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  for (const [path, specs] of byPath) {
    const route = router.route(path);
    for (const spec of specs) {
      const handler: RequestHandler = async (req, res) => spec.handler(req, res);
      const chain = [...(spec.before ?? []), handler];
      if (spec.method === 'GET') route.get(...chain);
      else route.post(...chain);
    }
    const allowed = [...new Set(specs.flatMap((s) => (s.method === 'GET' ? ['GET', 'HEAD'] : [s.method])))];
    route.all(() => {
      throw new MethodNotAllowedError(allowed);
    });
  }
  for (const ext of extensions) router.use(ext);
  router.use((req) => {
    throw new RouteNotFoundError(req.originalUrl.split('?')[0]);
  });
  return router;
}
