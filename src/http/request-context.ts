/**
 * Per-request facts shared by the middlewares: the request id (honoured from the caller's
 * X-Request-Id when sane, else generated, always echoed) and the verified caller. Emits one
 * structured log line per request when the response ends — never the Authorization header.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Caller } from '../migration/contract.js';
import { logger } from '../logging.js';

const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export interface RequestLocals {
  requestId: string;
  caller?: Caller;
  /** Log level of the access line: qmig's own routes at info, proxied traffic at debug. */
  accessLogLevel?: 'info' | 'debug';
}

export function locals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

export function requestIdOf(res: Response): string {
  return locals(res).requestId ?? 'unknown';
}

export function callerOf(res: Response): Caller {
  const caller = locals(res).caller;
  if (!caller) throw new Error('route reached without an authenticated caller');
  return caller;
}

export const requestContext: RequestHandler = (req, res, next) => {
  const incoming = req.get('x-request-id');
  const id = incoming && SANE_ID.test(incoming) ? incoming : randomUUID();
  locals(res).requestId = id;
  res.setHeader('X-Request-Id', id);
  const started = process.hrtime.bigint();
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    const l = locals(res);
    logger.log(l.accessLogLevel ?? 'debug', 'request', {
      request_id: id,
      method: req.method,
      path: req.originalUrl.split('?')[0],
      status: res.headersSent ? res.statusCode : 499,
      duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
      user: l.caller?.user ?? null,
    });
  };
  res.on('finish', log);
  res.on('close', log);
  next();
};
