/**
 * The one place where errors become HTTP answers. Domain errors (src/errors.ts) carry their
 * status and body; errors of the HTTP plumbing (body too large, malformed percent-encoding) are
 * translated; anything else is a 500 `internal_error` naming the request id — logged with its
 * stack, never sent with it.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { BadRequestError, BrokerError, BrokerRequestError, PayloadTooLargeError, QmigError, type ErrorBody } from '../errors.js';
import { logger } from '../logging.js';
import { requestIdOf } from './request-context.js';

interface HttpLibraryError {
  status?: number;
  statusCode?: number;
  type?: string;
  limit?: number;
  expose?: boolean;
}

/** Translates anything thrown into the domain error that answers it (null: unexpected). */
export function toQmigError(err: unknown): QmigError | null {
  if (err instanceof QmigError) return err;
  if (err instanceof BrokerRequestError) {
    return new BrokerError(`the broker refused ${err.method} ${err.path} (${err.status}): ${err.brokerReason}`);
  }
  const e = (err ?? {}) as HttpLibraryError;
  if (e.type === 'entity.too.large') return new PayloadTooLargeError(Number(e.limit));
  if (err instanceof URIError || (e.status === 400 && /decode param/i.test(String((err as Error).message)))) {
    return new BadRequestError('malformed percent-encoding in the request path');
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new BadRequestError(String((err as Error).message));
  }
  const status = e.status ?? e.statusCode;
  if (e.expose && typeof status === 'number' && status >= 400 && status < 500) {
    return new BadRequestError(String((err as Error).message));
  }
  return null;
}

export function sendError(res: Response, status: number, body: ErrorBody, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json(body);
}

export const errorMapper: ErrorRequestHandler = (err, req, res, _next) => {
  void _next;
  const requestId = requestIdOf(res);
  if ((err as HttpLibraryError)?.type === 'request.aborted') return; // the client is gone
  const known = toQmigError(err);
  if (res.headersSent) {
    logger.warn('error after the response started', { request_id: requestId, path: req.path, error: (err as Error)?.message });
    res.destroy();
    return;
  }
  if (known) {
    if (known.status >= 500) logger.warn('request failed', { request_id: requestId, path: req.path, status: known.status, error: known.message });
    sendError(res, known.status, known.body(), known.headers());
    return;
  }
  logger.error('unexpected error', { request_id: requestId, method: req.method, path: req.path, error: (err as Error)?.message, stack: (err as Error)?.stack });
  sendError(res, 500, { error: 'internal_error', reason: `Internal error; request id ${requestId}` });
};
