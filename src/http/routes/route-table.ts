/**
 * Routers built from tables of routes — every route of the sidecar is declared this way:
 * - `routerFromTable`: a complete API router whose 404/405 answers know every route: a known path
 *   with another method → 405 with `Allow`; an unknown path → 404 JSON;
 * - `routesFromTable`: a router for a few paths of a larger surface; other paths fall through to
 *   what is mounted after it (by default a known path with another method still answers 405).
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response, type RouterOptions } from 'express';
import { MethodNotAllowedError, RouteNotFoundError } from '../../errors.js';

export type Method = 'GET' | 'POST';

export interface RouteSpec {
  method: Method;
  /** Express path relative to the router's mount point, e.g. `/status/:id`. */
  path: string;
  /** Middlewares run before the handler (authorization, body reading, …). */
  before?: RequestHandler[];
  /** `next` passes the request on (e.g. to the proxy); an error thrown or rejected is answered by the error mapper. */
  handler: (req: Request, res: Response, next: NextFunction) => Promise<void>;
}

export interface TableOptions {
  /** Answer 405 with `Allow` for a known path asked with another method (default true); false: it falls through. */
  methodNotAllowed?: boolean;
  /** Express router options (default: case-sensitive, not strict). */
  router?: RouterOptions;
}

const DEFAULT_ROUTER: RouterOptions = { strict: false, caseSensitive: true };

function addRoutes(router: Router, routes: RouteSpec[], methodNotAllowed: boolean): void {
  const byPath = new Map<string, RouteSpec[]>();
  for (const r of routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  for (const [path, specs] of byPath) {
    const route = router.route(path);
    for (const spec of specs) {
      const handler: RequestHandler = async (req, res, next) => spec.handler(req, res, next);
      const chain = [...(spec.before ?? []), handler];
      if (spec.method === 'GET') route.get(...chain);
      else route.post(...chain);
    }
    if (!methodNotAllowed) continue;
    const allowed = [...new Set(specs.flatMap((s) => (s.method === 'GET' ? ['GET', 'HEAD'] : [s.method])))];
    route.all(() => {
      throw new MethodNotAllowedError(allowed);
    });
  }
}

/** The table's routes only: other paths fall through. */
export function routesFromTable(routes: RouteSpec[], options: TableOptions = {}): Router {
  const router = Router(options.router ?? DEFAULT_ROUTER);
  addRoutes(router, routes, options.methodNotAllowed ?? true);
  return router;
}

/**
 * `prelude` runs before every route (authentication); `extensions` are further routers tried
 * after the table's routes and before the 404 fallback.
 */
export function routerFromTable(routes: RouteSpec[], prelude: RequestHandler[] = [], extensions: Router[] = []): Router {
  const router = Router(DEFAULT_ROUTER);
  for (const mw of prelude) router.use(mw);
  addRoutes(router, routes, true);
  for (const ext of extensions) router.use(ext);
  router.use((req) => {
    throw new RouteNotFoundError(req.originalUrl.split('?')[0]);
  });
  return router;
}
