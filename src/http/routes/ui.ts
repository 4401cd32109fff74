/**
 * The "Admin → Queue Migration" page of the RabbitMQ management UI, served by the sidecar
 * without touching the broker. The 3.10 UI learns its extensions from GET /api/extensions and
 * loads each as `js/<name>`; its templates come from `js/tmpl/<name>.ejs`. So:
 *   GET /api/extensions                  the broker's own list (asked with the caller's
 *                                        Authorization) + {"javascript":"queue-migration.js"};
 *                                        any non-200 answer of the broker is relayed as is;
 *   GET /js/queue-migration.js           the extension (static file);
 *   GET /js/tmpl/queue-migration*.ejs    its templates (static files).
 * Everything else (the UI itself, other templates, other methods) still comes from the broker
 * through the proxy. The page's files are in src/http/ui/static (src/http/ui/static-files.ts).
 */
import type { AxiosRequestConfig } from 'axios';
import type { Router } from 'express';
import type { Context } from '../../context.js';
import { readStaticFile } from '../ui/static-files.js';
import { routesFromTable, type RouteSpec } from './route-table.js';

export const EXTENSION_SCRIPT = 'queue-migration.js';
const TEMPLATE_NAME = /^queue-migration(?:-[a-z0-9]+)*\.ejs$/;

export interface Extension {
  javascript?: string;
  [k: string]: unknown;
}

/** The broker's extensions plus qmig's (once). */
export function withQmigExtension(brokerList: Extension[]): Extension[] {
  const others = brokerList.filter((e) => !(e && typeof e === 'object' && e.javascript === EXTENSION_SCRIPT));
  return [...others, { javascript: EXTENSION_SCRIPT }];
}

export function queueMigrationUiRouter(ctx: Context): Router {
  const routes: RouteSpec[] = [
    {
      method: 'GET',
      path: '/api/extensions',
      async handler(req, res) {
        const authorization = req.get('authorization');
        // The caller's own credentials, never the service account's: `auth: null` drops the
        // client's default Basic credentials so that the caller's header (if any) goes through.
        const config = { auth: null, headers: authorization ? { authorization } : {} } as unknown as AxiosRequestConfig;
        const answer = await ctx.mgmt.request<unknown>('GET', '/extensions', undefined, config);
        res.setHeader('Cache-Control', 'no-cache');
        if (answer.status !== 200 || !Array.isArray(answer.data)) {
          res.status(answer.status);
          if (typeof answer.data === 'string') res.type('text/plain').send(answer.data);
          else res.json(answer.data);
          return;
        }
        res.json(withQmigExtension(answer.data as Extension[]));
      },
    },
    {
      method: 'GET',
      path: `/js/${EXTENSION_SCRIPT}`,
      async handler(_req, res) {
        res.setHeader('Cache-Control', 'no-cache');
        res.type('application/javascript; charset=utf-8').send(await readStaticFile(EXTENSION_SCRIPT));
      },
    },
    {
      method: 'GET',
      path: '/js/tmpl/:file',
      async handler(req, res, next) {
        const file = String(req.params.file);
        if (!TEMPLATE_NAME.test(file)) {
          next(); // the broker's own templates
          return;
        }
        const body = await readStaticFile(`tmpl/${file}`).catch(() => null);
        if (body === null) {
          res.status(404).json({ error: 'not_found', reason: `no template ${file}` });
          return;
        }
        res.setHeader('Cache-Control', 'no-cache');
        res.type('text/plain; charset=utf-8').send(body);
      },
    },
  ];
  // Strict paths; other methods and paths fall through to the proxy.
  return routesFromTable(routes, { methodNotAllowed: false, router: { caseSensitive: true, strict: true } });
}
