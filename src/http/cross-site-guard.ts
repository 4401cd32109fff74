/**
 * Refuses cross-site requests that would change something (CSRF). A web page the operator visits
 * can make the browser send a request to the sidecar; it cannot read the answer, but a POST alone
 * can start or interrupt a migration. So for every method other than GET/HEAD/OPTIONS:
 * - on every path (qmig's routes and the proxied management API): a browser's
 *   `Sec-Fetch-Site: cross-site|same-site` → 403, an `Origin` other than the sidecar's own host
 *   (the `Host` or `X-Forwarded-Host` the request came with; `null` included) → 403;
 * - on /api/queue-migration/*: a body must be `Content-Type: application/json` (a form or
 *   text/plain type, or a body without a type, is what a cross-site page can send without a CORS
 *   preflight) → else 400; a request without a body may have no Content-Type (the spec's
 *   `curl -u … -X POST`), but a simple one (form, multipart, text/plain) → 400. Such a bodyless
 *   request still needs an explicit `Authorization` header — one that browsers attach on their
 *   own only after a Basic challenge, which the sidecar therefore never sends (errors.ts,
 *   proxy.ts).
 * Non-browser clients (CLI, curl, peers) send neither Origin nor Sec-Fetch-Site and pass.
 */
import type { Request, RequestHandler } from 'express';
import { BadRequestError, ForbiddenError } from '../errors.js';
import { JSON_TYPE } from './request-validation.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function hostOf(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.host.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** Why `req` looks cross-site, or null. */
export function crossSiteReason(req: Pick<Request, 'get'>): string | null {
  const site = req.get('sec-fetch-site')?.trim().toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = req.get('origin');
  if (origin === undefined) return null;
  const own = [req.get('host'), ...(req.get('x-forwarded-host') ?? '').split(',')].map((h) => h?.trim().toLowerCase()).filter(Boolean);
  const from = hostOf(origin.trim());
  if (from && own.includes(from)) return null;
  return `cross-site request refused (Origin ${origin.slice(0, 200)} is not this sidecar)`;
}

function hasBody(req: Request): boolean {
  return req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? '0') > 0;
}

/** On every path: refuse changing requests from another site. */
export const crossSiteGuard: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const why = crossSiteReason(req);
  if (why) throw new ForbiddenError(why);
  next();
};

/** On /api/queue-migration/*: changing requests carry JSON, or nothing with no simple type. */
export const jsonOnlyChanges: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) return next();
  const type = req.get('content-type');
  if (hasBody(req)) {
    if (!type || !JSON_TYPE.test(type)) {
      throw new BadRequestError(
        `request body must be JSON (Content-Type: application/json), got ${type ? `Content-Type: ${type.slice(0, 100)}` : 'no Content-Type'}`,
      );
    }
  } else if (type && !JSON_TYPE.test(type)) {
    throw new BadRequestError(`Content-Type ${type.slice(0, 100)} is not accepted on a changing request: send application/json or no Content-Type`);
  }
  next();
};
