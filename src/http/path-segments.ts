/**
 * Path segments that name nothing: `.`, `..` (raw or percent-encoded, e.g. `check/%2E`) and empty
 * segments (`status//x`, `check/`). An HTTP client normalises them away, so a vhost named `.`
 * would reach the broker as another path (`/api/vhosts/.` → `/api/vhosts/`): they are refused
 * with 400 before authentication, i.e. before any broker call.
 */
import type { RequestHandler } from 'express';
import { BadRequestError } from '../errors.js';

/** Why `rawPath` (below the mount point) is refused, or null. */
export function badSegment(rawPath: string): string | null {
  const segments = rawPath.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    let s: string;
    try {
      s = decodeURIComponent(segments[i]);
    } catch {
      return `path segment '${segments[i]}' is not valid percent-encoding`;
    }
    if (s === '' && (segments.length > 1 || i < segments.length - 1)) return 'empty path segment';
    if (s === '.' || s === '..') return `path segment '${s}' names no vhost or migration`;
  }
  return null;
}

export const rejectBadSegments: RequestHandler = (req, _res, next) => {
  // req.url is the raw path below the mount point (percent-encoding intact) with the query.
  const problem = badSegment(req.url.split('?')[0]);
  if (problem) throw new BadRequestError(problem);
  next();
};
