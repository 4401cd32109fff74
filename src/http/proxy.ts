/**
 * Everything that is not qmig's own is passed to the broker's management listener, streamed
 * both ways (no buffering): the rest of /api/*, the management UI and its assets. The caller's
 * own Authorization header and query string go along unchanged, so a management-UI-style client
 * can point at the sidecar as if it were the management listener with the plugin installed;
 * `GET /api/overview` advertises the sidecar for the management listeners (endpoint-discovery.ts).
 * Upstream unreachable → 502 JSON; no response head within `proxyTimeoutMs` (a hung management
 * listener) → 504 JSON, so the UI never hangs on it.
 *
 * Framing: the body goes upstream with exactly the framing it was accepted with
 * (src/http/request-framing.ts): Content-Length as given, chunked re-chunked, none as none;
 * ambiguous or unforwardable framing is refused with 400 before anything is sent upstream.
 * Failed logins through the proxy are limited like those on qmig's routes (`logins`).
 * `WWW-Authenticate` challenges of the broker are not passed on: a browser that answered one
 * would cache the credentials and attach them to requests any other web page makes (CSRF).
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { RequestHandler } from 'express';
import { brokerTlsFiles, clientTlsOptions } from '../broker/tls-options.js';
import type { Config } from '../config/config.js';
import { logger } from '../logging.js';
import { overviewRewriter } from './endpoint-discovery.js';
import { sendError, toQmigError } from './error-mapper.js';
import type { ProxyLoginLimit } from './proxy-login-limit.js';
import { requestFraming, type Framing } from './request-framing.js';
import { requestIdOf } from './request-context.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardable(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const connectionListed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connectionListed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export type ManagementProxy = RequestHandler & {
  /** Closes the kept-alive upstream connections (at shutdown). */
  close(): void;
};

export function managementProxy(
  config: Pick<Config, 'managementUrl' | 'caFile' | 'clientCertFile' | 'clientKeyFile' | 'tlsInsecure' | 'advertisedUrl' | 'proxyTimeoutMs'>,
  logins?: ProxyLoginLimit,
): ManagementProxy {
  const upstream = new URL(String(config.managementUrl));
  const https = upstream.protocol === 'https:';
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets: 64, ...clientTlsOptions(brokerTlsFiles(config)) })
    : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const send = https ? httpsRequest : httpRequest;
  const overview = overviewRewriter(config);

  const handler: RequestHandler = (req, res) => {
    let framing: Framing;
    try {
      framing = requestFraming(req.method, req.headers);
    } catch (err) {
      const known = toQmigError(err)!;
      res.setHeader('connection', 'close'); // what follows on this connection cannot be trusted
      sendError(res, known.status, known.body());
      req.resume();
      return;
    }
    // Failed logins back off here as on qmig's own routes (proxy-login-limit.ts).
    const refused = logins?.refusal(req);
    if (refused) {
      req.resume();
      sendError(res, refused.status, refused.body(), refused.headers());
      return;
    }
    const headers = forwardable(req.headers);
    // Framing headers are set from the decision above, whatever `Connection` lists.
    delete headers['content-length'];
    if (framing.kind === 'length') headers['content-length'] = String(framing.length);
    if (framing.kind === 'chunked') headers['transfer-encoding'] = 'chunked';
    headers.host = upstream.host;
    const priorFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = [priorFor, req.socket.remoteAddress].filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = req.protocol;
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    headers['x-request-id'] = requestIdOf(res);

    let clientGone = false;
    const upstreamReq = send({
      protocol: upstream.protocol,
      hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
      port: upstream.port || (https ? 443 : 80),
      method: req.method,
      path: basePath + req.originalUrl,
      headers,
      agent,
    });

    // No response head in time: the management listener hangs; answer 504 instead of waiting.
    const headTimer = setTimeout(() => {
      if (res.headersSent) return;
      logger.warn('management API did not answer through the proxy in time', {
        request_id: requestIdOf(res),
        path: req.path,
        timeout_ms: config.proxyTimeoutMs,
      });
      sendError(res, 504, {
        error: 'gateway_timeout',
        reason: `management API at ${upstream.origin} did not answer within ${config.proxyTimeoutMs} ms (QMIG_PROXY_TIMEOUT_MS)`,
      });
      clientGone = true;
      upstreamReq.destroy();
    }, config.proxyTimeoutMs);

    upstreamReq.on('response', (upstreamRes) => {
      clearTimeout(headTimer);
      logins?.answered(req, upstreamRes.statusCode ?? 502);
      if (overview.applies(req, upstreamRes)) return overview.send(req, upstreamRes, res);
      res.status(upstreamRes.statusCode ?? 502);
      const responseHeaders = forwardable(upstreamRes.headers);
      delete responseHeaders['www-authenticate'];
      for (const [k, v] of Object.entries(responseHeaders)) {
        if (v !== undefined) res.setHeader(k, v);
      }
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
    });

    upstreamReq.on('error', (err) => {
      clearTimeout(headTimer);
      if (clientGone) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      logger.warn('management API unreachable through the proxy', { request_id: requestIdOf(res), path: req.path, error: err.message });
      sendError(res, 502, {
        error: 'bad_gateway',
        reason: `management API at ${upstream.origin} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
      });
    });

    // The caller went away: stop the upstream request too.
    res.on('close', () => {
      clearTimeout(headTimer);
      if (!res.writableFinished) {
        clientGone = true;
        upstreamReq.destroy();
      }
    });

    if (framing.kind === 'none') {
      req.resume();
      upstreamReq.end();
    } else {
      req.pipe(upstreamReq);
    }
  };
  return Object.assign(handler, { close: () => agent.destroy() });
}
